"""Scenes: Scene/SceneCollection built from protocol documents, display, and the live workflow."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from rastercat.client.scenes import AOI, Scene, SceneCollection, _bands, display
from rastercat.errors import InvalidInput, NotFound

matplotlib.use("Agg")

PID = "d4ef22d5a6969cb61147ec8ea3e060cdf33e1a49:example-product"
PROJ4 = "+proj=utm +zone=43 +datum=WGS84 +units=m +no_defs "
GEOTRANS = [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0]
FOOTPRINT = {
    "type": "Polygon",
    "coordinates": [
        [
            [73.4682, 50.5106],
            [73.7229, 50.5137],
            [73.7260, 50.3980],
            [73.4720, 50.3949],
            [73.4682, 50.5106],
        ]
    ],
}
BANDS = {
    f"{PID}:blue": {"id": f"{PID}:blue", "name": "blue", "dtype": "UInt16", "data_range": [0, 10000],
                    "physical_range": [0, 1], "nodata": None, "resolution": 15},
    f"{PID}:cloud": {"id": f"{PID}:cloud", "name": "cloud", "dtype": "UInt16", "data_range": [0, 1],
                     "nodata": 0},
    f"{PID}:alpha": {"id": f"{PID}:alpha", "name": "alpha", "dtype": "UInt16", "data_range": [0, 1]},
}  # fmt: skip


def feature(
    key: str = "blue", acquired: str = "2018-11-27T17:33:42.123+00:00", **props: Any
) -> dict:
    return {
        "type": "Feature",
        "id": f"{PID}:{key}",
        "geometry": FOOTPRINT,
        "properties": {"product": PID, "key": key, "acquired": acquired, "proj4": PROJ4,
                       "geotrans": GEOTRANS, "raster_size": [1204, 858], **props},
    }  # fmt: skip


def test_scene_from_feature_has_the_protocol_properties() -> None:
    scene = Scene(feature(), BANDS)
    p = scene.properties
    assert p.id == f"{PID}:blue" and p.product == PID and p.key == "blue"
    assert p.crs == PROJ4  # no cs_code: the proj4 string verbatim, trailing space included
    assert p.date == dt.datetime(2018, 11, 27, 17, 33, 42, 123000)
    assert set(p.bands) == {"blue", "cloud", "alpha"}
    assert p.bands.blue.dtype == "UInt16"
    assert scene.geometry.geom_type == "Polygon"


def test_cs_code_wins_and_bad_dates_are_none() -> None:
    scene = Scene(feature(cs_code="EPSG:32643", acquired="yesterday"), BANDS)
    assert scene.properties.crs == "EPSG:32643" and scene.properties.date is None
    z = Scene(feature(acquired="2018-01-02T03:04:05Z"), {})
    assert z.properties.date == dt.datetime(2018, 1, 2, 3, 4, 5)


def test_scene_needs_id_and_geometry() -> None:
    broken = feature()
    del broken["geometry"]
    with pytest.raises(InvalidInput, match="geometry"):
        Scene(broken, BANDS)


def test_repr_reads_like_the_guide() -> None:
    only_blue = {k: v for k, v in BANDS.items() if k.endswith(":blue")}
    text = repr(Scene(feature(acquired="2018-11-27T17:33:42+00:00"), only_blue))
    assert text == (
        f'Scene "{PID}:blue"\n'
        f'  * Product: "{PID}"\n'
        f'  * CRS: "{PROJ4}"\n'
        "  * Date: Tue Nov 27 17:33:42 2018\n"
        "  * Bands:\n"
        "    * blue: UInt16, [0, 10000] -> [0, 1]"
    )


def test_default_ctx_is_the_native_grid() -> None:
    ctx = Scene(feature(), BANDS).default_ctx()
    assert ctx.resolution == 15.0 and ctx.align_pixels is False
    assert ctx.crs == PROJ4 and ctx.bounds_crs == PROJ4
    assert ctx.bounds == (391395.0, 5596530.0 - 858 * 15, 391395.0 + 1204 * 15, 5596530.0)
    params = ctx.raster_params
    assert params["cutline"] is None and params["dimensions"] is None


def test_default_ctx_without_square_pixels_or_geotrans_cannot_be_read() -> None:
    ctx = Scene(feature(geotrans=[0, 10, 0, 0, 0, -20]), BANDS).default_ctx()
    assert ctx.resolution is None and ctx.bounds == (0, -858 * 20, 1204 * 10, 0)
    with pytest.raises(InvalidInput, match="resolution"):
        _ = ctx.raster_params
    bare = Scene(feature(geotrans=None, raster_size=None), BANDS).default_ctx()
    with pytest.raises(InvalidInput, match="bounds"):
        _ = bare.raster_params


def test_coverage_of_an_aoi() -> None:
    scene = Scene(feature(), BANDS)
    inside = AOI(geometry={"type": "Polygon", "coordinates": [[[73.5, 50.4], [73.6, 50.4], [73.6, 50.5],
                                                               [73.5, 50.5], [73.5, 50.4]]]})  # fmt: skip
    half = AOI(bounds=(73.6, 50.4, 73.8, 50.5))
    assert scene.coverage(inside) == pytest.approx(1.0)
    assert 0.4 < scene.coverage(half) < 0.7


@pytest.mark.parametrize(
    ("bands", "kwargs", "message"),
    [
        ("blue red", {"mask_alpha": False}, "'red' not in product"),
        ([], {"mask_alpha": False}, "no bands"),
        ("alpha blue", {}, "must be the last"),
        ("blue", {"scaling": "fancy"}, "scaling"),
        ("blue cloud", {"scaling": [[0, 1]], "mask_alpha": False}, "1 entries for 2 bands"),
    ],
)
def test_ndarray_rejects_bad_band_requests_before_any_request(
    bands: Any, kwargs: dict, message: str
) -> None:
    scene = Scene(feature(), BANDS)
    with pytest.raises(InvalidInput, match=message):
        scene.ndarray(bands, scene.default_ctx(), **kwargs)


def test_mask_alpha_true_needs_an_alpha_band() -> None:
    no_alpha = {k: v for k, v in BANDS.items() if not k.endswith("alpha")}
    scene = Scene(feature(), no_alpha)
    with pytest.raises(ValueError, match="mask_alpha=False"):
        scene.ndarray("blue", scene.default_ctx(), mask_alpha=True)


def test_default_mask_alpha_follows_the_product() -> None:
    meta = _bands.bands_by_name(BANDS)
    with_alpha = _bands.prepare("blue", meta, PID, mask_alpha=None)
    assert with_alpha.names == ["blue", "alpha"] and with_alpha.mask_alpha
    no_alpha = {k: v for k, v in meta.items() if k != "alpha"}
    plain = _bands.prepare("blue", no_alpha, PID, mask_alpha=None)
    assert plain.names == ["blue"] and not plain.mask_alpha and not plain.drop_alpha
    raw = np.array([[[0, 6], [7, 8]]], dtype="uint16")
    out = _bands.masked(raw, plain, mask_nodata=True, mask_alpha=None, bands_axis=0)
    assert not out.mask.any()  # a 0 in blue is data when there is no alpha band to say otherwise


def test_mixed_dtypes_need_a_data_type() -> None:
    bands = {**BANDS, f"{PID}:f": {"name": "f", "dtype": "Float32", "data_range": [0, 1]}}
    scene = Scene(feature(), bands)
    with pytest.raises(InvalidInput, match="different dtypes"):
        scene.ndarray("blue f", scene.default_ctx(), mask_alpha=False)


def test_band_request_appends_alpha_and_masks_client_side() -> None:
    meta = _bands.bands_by_name(BANDS)
    request = _bands.prepare("blue cloud", meta, PID, mask_alpha=True)
    assert request.names == ["blue", "cloud", "alpha"] and request.drop_alpha
    assert request.data_type == "UInt16" and request.nodata == [None, 0, None]
    raw = np.array(
        [[[5, 6], [7, 8]], [[0, 1], [1, 1]], [[1, 1], [0, 1]]], dtype="uint16"
    )  # blue, cloud (nodata 0), alpha
    out = _bands.masked(raw, request, mask_nodata=True, mask_alpha=True, bands_axis=-1)
    assert out.shape == (2, 2, 2)
    np.testing.assert_array_equal(out.mask[..., 0], [[False, False], [True, False]])
    np.testing.assert_array_equal(out.mask[..., 1], [[True, False], [True, False]])
    unmasked = _bands.masked(raw, request, mask_nodata=False, mask_alpha=False, bands_axis=0)
    assert not unmasked.mask.any() and unmasked.shape == (2, 2, 2)


def test_single_band_answer_gets_a_band_axis() -> None:
    request = _bands.prepare("blue", _bands.bands_by_name(BANDS), PID, mask_alpha=False)
    out = _bands.masked(np.ones((3, 4), "uint16"), request, True, False, 0)
    assert out.shape == (1, 3, 4) and isinstance(out, np.ma.MaskedArray)


def test_display_scaling_maps_data_range_to_bytes() -> None:
    request = _bands.prepare("blue", _bands.bands_by_name(BANDS), PID, True, scaling="display")
    assert request.scales == [[0, 10000, 0, 255], None] and request.data_type == "Byte"


def _collection() -> SceneCollection:
    return SceneCollection(
        Scene(feature(key=k, acquired=f"2018-0{m}-0{d}T00:00:00+00:00"), BANDS)
        for k, m, d in (("c", 2, 1), ("a", 1, 5), ("b", 2, 3))
    )


def test_collection_is_list_like() -> None:
    scenes = _collection()
    assert len(scenes) == 3 and isinstance(scenes[1:], SceneCollection) and len(scenes[1:]) == 2
    assert scenes.each.properties.key.collect() == ["c", "a", "b"]
    assert list(scenes.each.properties.date.month) == [2, 1, 2]
    assert [s.properties.key for s in scenes.filter(lambda s: s.properties.key != "a")] == [
        "c",
        "b",
    ]
    assert [s.properties.key for s in scenes.sorted("properties.date")] == ["a", "c", "b"]
    assert [s.properties.key for s in scenes.sorted("properties.key", reverse=True)] == [
        "c",
        "b",
        "a",
    ]
    assert "3 scenes" in repr(scenes)


def test_groupby_month() -> None:
    groups = {
        k: [s.properties.key for s in g] for k, g in _collection().groupby("properties.date.month")
    }
    assert groups == {1: ["a"], 2: ["c", "b"]}
    pairs = list(_collection().groupby(lambda s: s.properties.date.year, "properties.date.month"))
    assert [k for k, _ in pairs] == [(2018, 1), (2018, 2)]


def test_empty_collection_cannot_mosaic() -> None:
    ctx = Scene(feature(), BANDS).default_ctx()
    with pytest.raises(InvalidInput, match="empty"):
        SceneCollection().mosaic("blue", ctx)


# --- display -----------------------------------------------------------------------------------


def _save(figure: Any, path: Path) -> None:
    figure.savefig(path)
    import matplotlib.pyplot as plt

    plt.close(figure)
    assert path.stat().st_size > 0 and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_display_2d_3band_and_masked(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 10000, (20, 30)).astype("uint16")
    rgb = rng.random((3, 20, 30))
    masked = np.ma.MaskedArray(rng.random((1, 20, 30)), mask=np.zeros((1, 20, 30), bool))
    masked.mask[0, :5] = True
    figure = display(gray, rgb, masked, title=["gray", "rgb", "masked"], size=3)
    assert len(figure.axes) == 3
    image = figure.axes[2].get_images()[0].get_array()
    assert image.shape == (20, 30, 4)
    assert (image[:5, :, 3] == 0).all() and (image[5:, :, 3] == 1).all()
    _save(figure, tmp_path / "three.png")


def test_display_bands_last_and_rgba(tmp_path: Path) -> None:
    rgba = np.ones((10, 12, 4))
    rgba[..., 3] = 0
    rgba[:, 6:, 3] = 1
    figure = display(rgba, bands_axis=-1, robust=False, colormap="magma", title="rgba")
    alpha = figure.axes[0].get_images()[0].get_array()[..., 3]
    assert (alpha[:, :6] == 0).all() and (alpha[:, 6:] == 1).all()
    _save(figure, tmp_path / "rgba.png")


@pytest.mark.parametrize(
    ("arrays", "message"),
    [((np.zeros((2, 4, 4)),), "1, 3 or 4 bands"), ((np.zeros(4),), "2-D or 3-D"), ((), "at least")],
)
def test_display_rejects_what_it_cannot_show(arrays: tuple, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        display(*arrays)


# ---------------------------------------------------------------------------------------------
# The guide workflow against the live server (needs the lead's live_server, ingest, Metadata, Raster).

UTM43 = CRS.from_epsg(32643)
ROWS, COLS = 48, 64


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Any:
    try:
        return request.getfixturevalue("live_server")
    except pytest.FixtureLookupError:
        pytest.skip("tests/conftest.py provides no live_server fixture yet")


def _write(
    path: Path, data: np.ndarray, origin: tuple[float, float] = (391395.0, 5596530.0)
) -> Path:
    with rasterio.Env(), rasterio.open(
        path, "w", driver="GTiff", width=data.shape[-1], height=data.shape[-2], count=data.shape[0],
        dtype=data.dtype, crs=UTM43, transform=from_origin(origin[0], origin[1], 15, 15),
    ) as dst:  # fmt: skip
        dst.write(data)
    return path


@pytest.fixture(scope="module")
def env(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A product with blue + alpha, two overlapping images, uploaded with the Catalog SDK."""
    from rastercat.client.catalog import Catalog

    tmp = tmp_path_factory.mktemp("scenes")
    blue = (np.arange(ROWS * COLS, dtype="uint16").reshape(ROWS, COLS) % 9000) + 1
    alpha = np.ones((ROWS, COLS), "uint16")
    alpha[:, :8] = 0
    second = np.full((ROWS, COLS), 7, "uint16")
    with server.env("scenes-alice"), Catalog() as catalog:
        pid = catalog.add_product(f"scenes-{uuid.uuid4().hex[:8]}", title="t", description="d")[
            "data"
        ]["id"]
        catalog.add_band(pid, "blue", srcband=1, dtype="UInt16", nbits=14, data_range=[0, 10000],
                         physical_range=[0, 1], type="spectral", resolution=15)  # fmt: skip
        catalog.add_band(pid, "alpha", srcband=2, dtype="UInt16", nbits=1, data_range=[0, 1],
                         type="mask")  # fmt: skip
        catalog.upload_image(str(_write(tmp / "one.tif", np.stack([blue, alpha]))), pid,
                             acquired="2018-01-01T00:00:00Z")  # fmt: skip
        catalog.wait_for_image(pid, "one", timeout=60, poll=0.1)
        # The second image is shifted 32 pixels east, so the two overlap by half.
        catalog.upload_image(
            str(_write(tmp / "two.tif", np.stack([second, np.ones_like(second)]),
                       origin=(391395.0 + 32 * 15, 5596530.0))),
            pid, acquired="2018-02-01T00:00:00Z",
        )  # fmt: skip
        catalog.wait_for_image(pid, "two", timeout=60, poll=0.1)
        yield {"pid": pid, "blue": blue, "alpha": alpha, "catalog": catalog, "tmp": tmp}


def test_from_id_is_not_found_until_uploaded(env: dict[str, Any], server: Any) -> None:
    with server.env("scenes-alice"):
        with pytest.raises(NotFound):
            Scene.from_id(f"{env['pid']}:never-uploaded")
        scene, ctx = Scene.from_id(f"{env['pid']}:one")
    assert scene.properties.product == env["pid"] and set(scene.properties.bands) == {
        "blue",
        "alpha",
    }
    assert ctx.resolution == 15 and ctx.bounds == (391395.0, 5596530.0 - ROWS * 15,
                                                   391395.0 + COLS * 15, 5596530.0)  # fmt: skip


def test_native_grid_returns_the_original_pixels(env: dict[str, Any], server: Any) -> None:
    with server.env("scenes-alice"):
        scene, ctx = Scene.from_id(f"{env['pid']}:one")
        arr = scene.ndarray("blue", ctx, mask_alpha=False)
        masked = scene.ndarray("blue", ctx)
        coarse = scene.ndarray("blue", ctx.assign(resolution=30), mask_alpha=False)
    assert arr.shape == (1, ROWS, COLS) and arr.dtype == np.uint16
    np.testing.assert_array_equal(arr.data[0], env["blue"])
    assert not arr.mask.any()
    np.testing.assert_array_equal(masked.mask[0], env["alpha"] == 0)
    assert coarse.shape == (1, 24, 32)


def test_raster_info_round_trips_into_upload_ndarray(env: dict[str, Any], server: Any) -> None:
    with server.env("scenes-alice"):
        scene, ctx = Scene.from_id(f"{env['pid']}:one")
        arr, meta = scene.ndarray("blue", ctx.assign(resolution=30), mask_alpha=False,
                                  raster_info=True)  # fmt: skip
        catalog = env["catalog"]
        # A derived product of its own, as in the guide: one band, srcband 1 of the 2-D array.
        derived_pid = catalog.add_product(f"derived-{uuid.uuid4().hex[:8]}", title="t",
                                          description="d")["data"]["id"]  # fmt: skip
        catalog.add_band(derived_pid, "blue", srcband=1, dtype="UInt16", nbits=14,
                         data_range=[0, 10000], type="spectral")  # fmt: skip
        catalog.upload_ndarray(arr.data[0], derived_pid, "derived", raster_meta=meta)
        catalog.wait_for_image(derived_pid, "derived", timeout=60, poll=0.1)
        derived, derived_ctx = Scene.from_id(f"{derived_pid}:derived")
        again = derived.ndarray("blue", derived_ctx, mask_alpha=False)
        on_first_grid = derived.ndarray("blue", ctx.assign(resolution=30), mask_alpha=False)
    assert derived_ctx.resolution == 30 and derived_ctx.bounds == ctx.bounds
    np.testing.assert_array_equal(again.data, arr.data)
    np.testing.assert_array_equal(on_first_grid.data, arr.data)


def test_search_mosaic_stack_and_download(env: dict[str, Any], server: Any, tmp_path: Path) -> None:
    with server.env("scenes-alice"):
        one, native = Scene.from_id(f"{env['pid']}:one")
        aoi = AOI(geometry=one.geometry, crs=one.properties.crs)
        scenes, ctx = rc_search(aoi, env["pid"])
        assert [s.properties.key for s in scenes] == ["one", "two"]
        assert ctx.resolution == 15  # the band's resolution filled in
        crs_only, ctx2 = rc_search(AOI(geometry=one.geometry, resolution=15), env["pid"])
        assert ctx2.crs == one.properties.crs
        grid = native.assign(
            bounds=(391395.0, 5596530.0 - ROWS * 15, 391395.0 + 96 * 15, 5596530.0)
        )
        mosaic = scenes.mosaic("blue", grid, mask_alpha=False)
        stack = scenes.stack("blue", grid)
        path = scenes[0].download("blue", native, dest=str(tmp_path / "one.tif"))
    assert mosaic.shape == (1, ROWS, 96)
    np.testing.assert_array_equal(mosaic.data[0, :, :32], env["blue"][:, :32])
    assert (mosaic.data[0, :, 32:] == 7).all()  # the later scene is on top
    assert stack.shape == (2, 1, ROWS, 96)
    assert stack.mask[0, 0, :, :8].all() and stack.mask[1, 0, :, :32].all()
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 32643 and (src.width, src.height) == (COLS, ROWS)
        assert src.transform.to_gdal() == (391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0)
        np.testing.assert_array_equal(src.read(1), env["blue"])


def rc_search(aoi: Any, pid: str) -> Any:
    from rastercat.client.scenes import search

    return search(aoi, products=pid, sort_field="acquired")

"""The read engine against real COGs: exact native reads, reprojection, mosaics, masks, conversion."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
import rasterio
import shapely.geometry
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds

from rastercat.config import Limits
from rastercat.errors import InvalidInput, StoreError
from rastercat.raster import Grid, RasterRequest, SourceImage, plan_grid, read
from rastercat.raster.grid import grid_from_bounds

from .conftest import ORIGIN, TRANSFORM, UTM43, band, random_array

Cog = Callable[..., SourceImage]


def native_grid(src: SourceImage) -> Grid:
    return Grid(UTM43, src.transform, *src.raster_size)


@pytest.mark.parametrize(
    "dtype", ["Byte", "UInt16", "Int16", "UInt32", "Int32", "Float32", "Float64"]
)
def test_native_read_returns_the_original_pixels_for_every_dtype(cog: Cog, dtype: str) -> None:
    np_dtype = {
        "Byte": "uint8",
        "UInt16": "uint16",
        "Int16": "int16",
        "UInt32": "uint32",
        "Int32": "int32",
        "Float32": "float32",
        "Float64": "float64",
    }[dtype]
    arr = random_array(np_dtype, (1, 48, 64))
    src = cog(arr, ("b1",))
    res = read([src], [band("b1", dtype)], native_grid(src))
    assert res.data.dtype == np.dtype(np_dtype)
    np.testing.assert_array_equal(res.data, arr)
    assert res.mask.all()


def test_multiband_read_returns_bands_in_request_order(cog: Cog) -> None:
    arr = random_array("uint16", (3, 48, 64))
    src = cog(arr, ("red", "green", "blue"))
    bands = [band("blue"), band("red")]
    res = read([src], bands, native_grid(src))
    np.testing.assert_array_equal(res.data, arr[[2, 0]])


def test_default_ctx_request_round_trips_exactly(cog: Cog) -> None:
    """The guide's ``Scene.default_ctx()`` body (proj4 srs with a trailing space, native bounds)."""
    arr = random_array("uint16", (1, 48, 64))
    src = cog(arr, ("blue",))
    proj4 = "+proj=utm +zone=43 +datum=WGS84 +units=m +no_defs "
    req = RasterRequest.parse(
        {
            "ids": src.id,
            "bands": ["blue"],
            "scales": None,
            "ot": "UInt16",
            "srs": proj4,
            "resolution": 15.0,
            "shape": None,
            "outputBounds": [391395.0, 5595810.0, 392355.0, 5596530.0],
            "outputBoundsSRS": proj4,
            "outsize": None,
            "targetAlignedPixels": False,
            "resampleAlg": "near",
            "processing_level": None,
            "of": "blosc",
        }
    )
    grid = plan_grid(req, [src], Limits(), 1, "uint16")
    res = read([src], [band("blue")], grid, out_dtype=req.ot)
    np.testing.assert_array_equal(res.data[0], arr[0])


def _reference(src: SourceImage, grid: Grid, resampling: Resampling) -> np.ndarray:
    out = np.zeros((grid.height, grid.width), dtype="uint16")
    with rasterio.open(src.path) as ds:
        reproject(
            rasterio.band(ds, 1),
            out,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            resampling=resampling,
        )
    return out


def _grid_in(crs: str, src: SourceImage) -> Grid:
    t, w, h = calculate_default_transform(UTM43, crs, *src.raster_size, *src.bounds)
    return Grid(CRS.from_user_input(crs), t, w, h)


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:4326"])
@pytest.mark.parametrize(
    ("name", "resampling", "tolerance"),
    [
        ("near", Resampling.nearest, 0),
        ("bilinear", Resampling.bilinear, 1),
        ("cubic", Resampling.cubic, 1),
        ("cubicsplice", Resampling.cubic_spline, 1),
        ("average", Resampling.average, 1),
        ("mode", Resampling.mode, 0),
    ],
)
def test_reprojected_read_equals_rasterio_reproject(
    cog: Cog, crs: str, name: str, resampling: Resampling, tolerance: int
) -> None:
    arr = random_array("uint16", (1, 48, 64)) // 8
    src = cog(arr, ("b1",))
    grid = _grid_in(crs, src)
    res = read([src], [band("b1")], grid, resampling=name)
    ref = _reference(src, grid, resampling)
    inside = res.mask
    assert inside.mean() > 0.5
    diff = np.abs(res.data[0].astype(int) - ref.astype(int))[inside]
    assert diff.max() <= tolerance
    assert (res.data[0][~inside] == 0).all()


def test_reprojected_near_read_is_pixel_exact_everywhere(cog: Cog) -> None:
    arr = random_array("uint16", (1, 48, 64)) + 1  # no zeros: 0 only outside the footprint
    src = cog(arr, ("b1",))
    grid = _grid_in("EPSG:3857", src)
    res = read([src], [band("b1")], grid)
    np.testing.assert_array_equal(res.data[0], _reference(src, grid, Resampling.nearest))
    np.testing.assert_array_equal(res.mask, res.data[0] != 0)


@pytest.mark.parametrize("crs", [None, "EPSG:4326"])
def test_mosaic_of_adjacent_halves_has_no_seam_and_no_gap(cog: Cog, crs: str | None) -> None:
    whole = random_array("uint16", (2, 48, 128)) + 1
    full = cog(whole, ("a", "b"), transform=TRANSFORM)
    west = cog(whole[:, :, :64].copy(), ("a", "b"), transform=TRANSFORM)
    east = cog(whole[:, :, 64:].copy(), ("a", "b"), transform=TRANSFORM @ Affine.translation(64, 0))
    grid = native_grid(full) if crs is None else _grid_in(crs, full)
    bands = [band("a"), band("b")]
    single = read([full], bands, grid)
    mosaic = read([west, east], bands, grid)
    np.testing.assert_array_equal(mosaic.data, single.data)
    np.testing.assert_array_equal(mosaic.mask, single.mask)
    assert mosaic.metadata["metadata"][""]["id"] == "*"


def test_overlapping_images_later_on_top(cog: Cog) -> None:
    first = cog(np.full((1, 48, 64), 10, "uint16"))
    second = cog(np.full((1, 48, 64), 20, "uint16"))
    grid = native_grid(first)
    assert (read([first, second], [band("b1")], grid).data == 20).all()
    assert (read([second, first], [band("b1")], grid).data == 10).all()


def test_nodata_in_later_image_lets_the_earlier_one_through(cog: Cog) -> None:
    under = cog(np.full((1, 48, 64), 10, "uint16"))
    top = np.full((1, 48, 64), 20, "uint16")
    top[:, :, :30] = 0
    over = cog(top, nodata=0)
    res = read([under, over], [band("b1", nodata=0)], native_grid(under))
    assert (res.data[0, :, :30] == 10).all()
    assert (res.data[0, :, 30:] == 20).all()


def test_alpha_band_masks_later_image_and_is_returned_as_stored(cog: Cog) -> None:
    names = ("red", "alpha")
    a = np.stack([np.full((48, 64), 10, "uint16"), np.ones((48, 64), "uint16")])
    b = np.stack([np.full((48, 64), 20, "uint16"), np.ones((48, 64), "uint16")])
    b[1, :10] = 0
    first, second = cog(a, names), cog(b, names)
    wide = Grid(UTM43, TRANSFORM, 80, 48)  # 16 columns east of both images
    bands = [band("red"), band("alpha", is_alpha=True, data_range=(0, 1))]
    res = read([first, second], bands, wide)
    assert (res.data[0, :10, :64] == 10).all() and (res.data[0, 10:, :64] == 20).all()
    assert (res.data[1, :, :64] == 1).all()
    assert (res.data[:, :, 64:] == 0).all() and not res.mask[:, 64:].any()
    # Alpha decides validity only when requested (protocol §4.1: the last band being alpha);
    # without it the later image is on top everywhere it has pixels.
    only_red = read([first, second], [band("red")], wide)
    assert (only_red.data[0, :, :64] == 20).all()


def test_pixels_outside_all_sources_are_the_band_nodata(cog: Cog) -> None:
    src = cog(np.full((1, 48, 64), 5, "int16"))
    grid = Grid(UTM43, TRANSFORM @ Affine.translation(-16, 0), 64, 48)
    res = read([src], [band("b1", "Int16", nodata=-9999)], grid)
    assert (res.data[0, :, :16] == -9999).all() and (res.data[0, :, 16:] == 5).all()
    np.testing.assert_array_equal(res.mask[:, :16], False)


def test_source_outside_the_grid_is_skipped_without_opening_it(cog: Cog) -> None:
    src = cog(np.full((1, 48, 64), 5, "uint16"))
    far = SourceImage(
        "ns:p:far",
        "/nonexistent/far.tif",
        ("b1",),
        src.crs_wkt,
        (0.0, 15.0, 0.0, 1000.0, 0.0, -15.0),
        (64, 48),
    )
    res = read([src, far], [band("b1")], native_grid(src))
    assert (res.data == 5).all()


def test_unreadable_source_raises_store_error(cog: Cog) -> None:
    src = cog(np.full((1, 48, 64), 5, "uint16"))
    broken = SourceImage(
        "ns:p:gone", "/nonexistent/gone.tif", ("b1",), src.crs_wkt, src.geotrans, src.raster_size
    )
    with pytest.raises(StoreError, match="ns:p:gone"):
        read([broken], [band("b1")], native_grid(src))


def test_image_lacking_a_band_leaves_it_to_the_others(cog: Cog) -> None:
    a = cog(np.full((1, 48, 64), 3, "uint16"), ("x",))
    b = cog(np.full((1, 48, 64), 4, "uint16"), ("y",))
    res = read([a, b], [band("x"), band("y")], native_grid(a))
    assert (res.data[0] == 3).all() and (res.data[1] == 4).all()


def test_unknown_resampler_and_band_dtype_are_invalid(cog: Cog) -> None:
    src = cog(np.full((1, 48, 64), 5, "uint16"))
    with pytest.raises(InvalidInput) as exc:
        read([src], [band("b1")], native_grid(src), resampling="sinc")
    assert exc.value.field == "resampleAlg"
    with pytest.raises(InvalidInput):
        read([src], [band("b1", "Complex64")], native_grid(src))
    with pytest.raises(InvalidInput) as exc:
        read([src], [band("b1")], native_grid(src), scales=[None, None])
    assert exc.value.field == "scales"


def test_scaling_follows_gdal_translate(cog: Cog) -> None:
    arr = np.array([[0, 500, 1000, 2000]], "uint16").repeat(4, 0)[np.newaxis]
    src = cog(arr, transform=TRANSFORM)
    grid = Grid(UTM43, TRANSFORM, 4, 4)
    res = read([src], [band("b1")], grid, scales=[[0, 1000]], out_dtype="Byte")
    assert res.data.dtype == np.uint8
    np.testing.assert_array_equal(res.data[0, 0], [0, 128, 255, 255])  # round, then saturate
    res = read([src], [band("b1")], grid, scales=[[0, 2000, -1, 1]], out_dtype="Float32")
    np.testing.assert_allclose(res.data[0, 0], [-1, -0.5, 0, 1])
    raw = read([src], [band("b1")], grid, scales=[None], out_dtype="Byte")
    np.testing.assert_array_equal(raw.data[0, 0], [0, 255, 255, 255])  # ot alone saturates too


def test_scaling_passes_nodata_through(cog: Cog) -> None:
    arr = np.array([[0, 500, 1000, 2000]], "uint16").repeat(4, 0)[np.newaxis]
    src = cog(arr, nodata=0)
    res = read(
        [src],
        [band("b1", nodata=0)],
        Grid(UTM43, TRANSFORM, 4, 4),
        scales=[[0, 2000, 100, 200]],
        out_dtype="Byte",
    )
    np.testing.assert_array_equal(res.data[0, 0], [0, 125, 150, 200])


def test_cutline_masks_pixels_outside(cog: Cog) -> None:
    src = cog(np.full((1, 48, 64), 7, "uint16"))
    west, south, east, north = transform_bounds(UTM43, "EPSG:4326", *src.bounds)
    half = shapely.geometry.box(west - 0.01, south - 0.01, (west + east) / 2, north + 0.01)
    res = read([src], [band("b1", nodata=65535)], native_grid(src), cutline=half)
    assert res.mask[:, :28].all() and not res.mask[:, 36:].any()
    assert (res.data[0][~res.mask] == 65535).all() and (res.data[0][res.mask] == 7).all()


def test_resolution_30_on_the_guide_image_gives_24_by_32(cog: Cog) -> None:
    arr = random_array("uint16", (1, 48, 64))
    src = cog(arr)
    req = RasterRequest.parse(
        {
            "ids": src.id,
            "resolution": 30,
            "srs": "EPSG:32643",
            "outputBounds": list(src.bounds),
            "targetAlignedPixels": False,
        }
    )
    res = read([src], [band("b1")], plan_grid(req, [src], Limits(), 1, "uint16"))
    assert res.data[0].shape == (24, 32)
    np.testing.assert_array_equal(res.data[0], arr[0, ::2, ::2])


def test_low_resolution_read_uses_overviews(cog: Cog) -> None:
    """COG overviews (written with nearest here) hold every 4th pixel: a 4x coarser read sees them."""
    arr = random_array("uint16", (1, 48, 64)) + 1
    src = cog(arr)
    grid = grid_from_bounds(UTM43, src.bounds, resolution=(60.0, 60.0))
    with rasterio.open(src.path, overview_level=1) as ov:
        expected = ov.read(1)
    res = read([src], [band("b1")], grid, resampling="average")
    np.testing.assert_array_equal(res.data[0], expected)


def test_too_large_output_is_refused_before_any_read() -> None:
    ghost = SourceImage(
        "ns:p:ghost",
        "/nonexistent/ghost.tif",
        ("b1",),
        UTM43.to_wkt(),
        (*ORIGIN[:1], 15.0, 0.0, ORIGIN[1], 0.0, -15.0),
        (64, 48),
    )
    req = RasterRequest.parse({"ids": ghost.id, "resolution": 0.001})
    start = time.perf_counter()
    with pytest.raises(InvalidInput, match="max_output_side") as exc:
        plan_grid(req, [ghost], Limits(), 1, "uint16")
    assert "960000" in str(exc.value)
    req = RasterRequest.parse({"ids": ghost.id, "outsize": [8000, 8000]})
    with pytest.raises(InvalidInput, match="max_output_bytes"):
        plan_grid(req, [ghost], Limits(), 4, "uint16")
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("crs", [None, "EPSG:3857"])
def test_real_pixels_equal_to_the_fill_sentinel_are_kept(cog: Cog, crs: str | None) -> None:
    """Sources without nodata are warped with the dtype's max as fill; real max pixels stay data."""
    whole = random_array("uint16", (1, 48, 128)) % 1000 + 1
    whole[:, :, 56:72] = 65535  # straddles the seam between the halves
    whole[:, 0, :] = 65535  # and the top edge
    full = cog(whole)
    west = cog(whole[:, :, :64].copy())
    east = cog(whole[:, :, 64:].copy(), transform=TRANSFORM @ Affine.translation(64, 0))
    grid = native_grid(full) if crs is None else _grid_in(crs, full)
    single = read([full], [band("b1")], grid)
    mosaic = read([west, east], [band("b1")], grid)
    np.testing.assert_array_equal(mosaic.data, single.data)
    np.testing.assert_array_equal(mosaic.mask, single.mask)
    if crs is None:
        np.testing.assert_array_equal(single.data, whole)
        assert single.mask.all()
    else:
        ref = _reference(full, grid, Resampling.nearest)
        np.testing.assert_array_equal(single.mask, ref != 0)

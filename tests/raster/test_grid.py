"""Output-grid planning with gdalwarp semantics, request parsing, and the caps."""

from __future__ import annotations

import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from rastercat.config import Limits
from rastercat.errors import InvalidInput
from rastercat.raster import RasterRequest, SourceImage, plan_grid

from .conftest import ORIGIN, UTM43

GUIDE = SourceImage(
    "ns:p:blue",
    "/unused.tif",
    ("blue",),
    UTM43.to_wkt(),
    (ORIGIN[0], 15.0, 0.0, ORIGIN[1], 0.0, -15.0),
    (64, 48),
)
BOUNDS = [391395.0, 5595810.0, 392355.0, 5596530.0]


def plan(body: dict, sources=(GUIDE,), limits: Limits | None = None, n_bands: int = 1):
    req = RasterRequest.parse({"ids": "ns:p:blue", **body})
    return plan_grid(req, list(sources), limits or Limits(), n_bands, "uint16")


def test_default_grid_is_the_first_source_grid() -> None:
    grid = plan({})
    assert grid.crs == UTM43 and grid.transform == GUIDE.transform
    assert (grid.width, grid.height) == (64, 48)


def test_default_ctx_grid_round_trips() -> None:
    proj4 = "+proj=utm +zone=43 +datum=WGS84 +units=m +no_defs "
    grid = plan(
        {"srs": proj4, "outputBoundsSRS": proj4, "outputBounds": BOUNDS, "resolution": 15.0}
    )
    assert grid.transform == GUIDE.transform and grid.shape == (48, 64)
    assert grid.crs.to_epsg() == 32643


def test_resolution_30_gives_24_by_32() -> None:
    assert plan({"resolution": 30, "outputBounds": BOUNDS}).shape == (24, 32)


def test_width_rounds_half_up_like_gdalwarp() -> None:
    # 960 m / 100 m = 9.6 -> 10 columns; 720 m / 100 m = 7.2 -> 7 rows.
    grid = plan({"resolution": 100, "outputBounds": BOUNDS})
    assert grid.shape == (7, 10)
    assert grid.transform == Affine(100, 0, BOUNDS[0], 0, -100, BOUNDS[3])


def test_target_aligned_pixels() -> None:
    grid = plan({"resolution": 100, "outputBounds": BOUNDS, "targetAlignedPixels": True})
    assert grid.transform.c == 391300.0 and grid.transform.f == 5596600.0
    assert grid.shape == (8, 11)
    # -tap without -tr is ignored, as in gdalwarp.
    assert plan({"outputBounds": BOUNDS, "targetAlignedPixels": True}).transform.c == BOUNDS[0]


def test_bounds_in_another_srs_are_transformed() -> None:
    wgs = transform_bounds(UTM43, "EPSG:4326", *BOUNDS)
    grid = plan(
        {
            "srs": "EPSG:32643",
            "resolution": 15,
            "outputBounds": list(wgs),
            "outputBoundsSRS": "EPSG:4326",
        }
    )
    minx, miny, maxx, maxy = grid.bounds
    # The densified envelope of a lon/lat box holds the original UTM box.
    assert minx <= BOUNDS[0] + 15 and maxx >= BOUNDS[2] - 15
    assert miny <= BOUNDS[1] + 15 and maxy >= BOUNDS[3] - 15
    assert grid.width < 80 and grid.height < 64


def test_other_srs_without_resolution_uses_the_transformed_native_resolution() -> None:
    grid = plan({"srs": "EPSG:3857"})
    assert grid.crs == CRS.from_epsg(3857)
    assert 15 < grid.transform.a < 30  # 15 m at 50 deg N is ~23 m of web mercator
    assert 40 <= grid.width <= 90


def test_outsize() -> None:
    grid = plan({"outsize": [32, 16], "outputBounds": BOUNDS})
    assert grid.shape == (16, 32)
    assert grid.transform.a == 30.0 and grid.transform.e == -45.0


def test_union_of_sources_without_bounds() -> None:
    east = SourceImage(
        "e",
        "/unused.tif",
        ("blue",),
        UTM43.to_wkt(),
        (ORIGIN[0] + 960, 15.0, 0.0, ORIGIN[1], 0.0, -15.0),
        (64, 48),
    )
    grid = plan({}, sources=(GUIDE, east))
    assert grid.shape == (48, 128)


def test_dltile_defines_the_grid() -> None:
    grid = plan({"dltile": "128:16:960.0:15:-2:37", "targetAlignedPixels": False})
    assert grid.shape == (160, 160) and grid.crs == CRS.from_epsg(32615)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"srs": "EPSG:999999"}, "srs"),
        ({"outputBounds": BOUNDS, "outputBoundsSRS": "nope"}, "outputBoundsSRS"),
        ({"dltile": "1:2:3"}, "dltile"),
        ({"outputBounds": [1, 1, 0, 0]}, "outputBounds"),
    ],
)
def test_bad_grid_parameters_name_their_field(body: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        plan(body)
    assert exc.value.field == field


def test_caps_name_the_limit_and_the_size() -> None:
    limits = Limits(max_output_side=100, max_output_bytes=10_000)
    with pytest.raises(InvalidInput, match=r"max_output_side \(100\)") as exc:
        plan({"resolution": 1, "outputBounds": BOUNDS}, limits=limits)
    assert "960 x 720" in exc.value.message
    with pytest.raises(InvalidInput, match=r"max_output_bytes \(10000\)"):
        plan({"outsize": [80, 80], "outputBounds": BOUNDS}, limits=limits)
    plan({"outsize": [70, 70], "outputBounds": BOUNDS}, limits=limits)  # 9800 bytes: fine
    with pytest.raises(InvalidInput, match="max_output_bytes"):
        plan({"outsize": [50, 50], "outputBounds": BOUNDS}, limits=limits, n_bands=3)


class TestRequest:
    def test_accepts_the_scene_body_and_ignores_unknown_keys(self) -> None:
        req = RasterRequest.parse(
            {
                "ids": "a",
                "bands": ["blue"],
                "of": "blosc",
                "masked": True,
                "output_window": [0, 0, 1, 1],
                "resampleAlg": "cubicsplice",
            }
        )
        assert req.id_list == ["a"] and req.resampling == "cubicsplice" and req.masked

    def test_ids_list(self) -> None:
        assert RasterRequest.parse({"ids": ["a", "b"]}).id_list == ["a", "b"]

    def test_cutline_json_string_and_wkt(self) -> None:
        poly = '{"type": "Polygon", "coordinates": [[[73.4, 50.5], [73.5, 50.5], [73.5, 50.6], [73.4, 50.5]]]}'
        assert RasterRequest.parse({"ids": "a", "shape": poly}).cutline.geom_type == "Polygon"
        wkt = "POLYGON ((73.4 50.5, 73.5 50.5, 73.5 50.6, 73.4 50.5))"
        assert RasterRequest.parse({"ids": "a", "shape": wkt}).cutline.area > 0

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "ids"),
            ({"ids": []}, "ids"),
            ({"ids": "a", "resolution": 0}, "resolution"),
            ({"ids": "a", "resolution": 1, "outsize": [1, 1]}, "outsize"),
            ({"ids": "a", "ot": "Complex64"}, "ot"),
            ({"ids": "a", "resampleAlg": "sinc"}, "resampleAlg"),
            ({"ids": "a", "scales": [[1]]}, "scales"),
            ({"ids": "a", "scales": [[1, 1]]}, "scales"),
            ({"ids": "a", "bands": ["x"], "scales": [None, None]}, "scales"),
            ({"ids": "a", "shape": "{not json"}, "shape"),
            ({"ids": "a", "of": "BMP"}, "of"),
            ({"ids": "a", "outsize": [0, 5]}, "outsize"),
            ({"ids": "a", "outputBounds": [1, 2]}, "outputBounds"),
        ],
    )
    def test_invalid_fields_are_named(self, body: dict, field: str) -> None:
        with pytest.raises(InvalidInput) as exc:
            RasterRequest.parse(body)
        assert exc.value.field == field


def test_read_memory_counts_the_working_dtype_and_every_copy() -> None:
    from rastercat.raster.grid import read_memory

    # 1 band, uint16 canvas, Byte output: canvas 2 + window 2 * 2 + fill test 2 + output 1
    # + encoder 2 + masks 8 = 19 bytes a pixel.
    assert read_memory(10, 10, 1, "uint16", "uint8") == 100 * 19
    assert read_memory(10, 10, 1, "uint16", "uint8", scaled=True) == 100 * 27
    assert read_memory(10, 10, 1, "float64", "uint8") > read_memory(10, 10, 1, "uint8", "uint8")


def test_the_read_memory_cap_refuses_a_small_output_of_a_wide_working_dtype() -> None:
    limits = Limits(max_output_bytes=10_000, max_read_bytes=170_000)
    req = RasterRequest.parse({"ids": "ns:p:blue", "outsize": [99, 100], "outputBounds": BOUNDS})
    # Byte output of Byte bands: 9,900 bytes out, 16 bytes a pixel to read: fine.
    plan_grid(req, [GUIDE], limits, 1, "uint8", "uint8")
    # The same Byte output of a UInt16 band is painted in UInt16: 19 bytes a pixel.
    with pytest.raises(InvalidInput, match=r"max_read_bytes \(170000\)") as exc:
        plan_grid(req, [GUIDE], limits, 1, "uint8", "uint16")
    assert exc.value.field == "resolution"

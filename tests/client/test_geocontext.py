"""AOI and DLTile: validation, immutability and the raster parameters they send (protocol §5.2)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import shapely.geometry

from rastercat.client.raster import raster_body
from rastercat.client.scenes import AOI, DLTile, GeoContext
from rastercat.errors import InvalidInput

SQUARE = {
    "type": "Polygon",
    "coordinates": [
        [
            [73.473, 50.5055],
            [73.477, 50.5055],
            [73.477, 50.5095],
            [73.473, 50.5095],
            [73.473, 50.5055],
        ]
    ],
}
UTM43 = "+proj=utm +zone=43 +datum=WGS84 +units=m +no_defs "


def test_aoi_from_geojson_takes_bounds_from_geometry() -> None:
    aoi = AOI(geometry=SQUARE, resolution=15, crs="EPSG:32643")
    assert aoi.bounds == (73.473, 50.5055, 73.477, 50.5095)
    assert aoi.bounds_crs == "EPSG:4326"
    assert isinstance(aoi, GeoContext)


def test_aoi_raster_params_match_the_protocol_example() -> None:
    params = AOI(geometry=SQUARE, resolution=15, crs="EPSG:32643").raster_params
    body = raster_body("ns:p:blue", bands=["blue"], data_type="UInt16", resampler="near", **params)
    body["of"] = "blosc"
    assert body == {
        "ids": "ns:p:blue",
        "bands": ["blue"],
        "scales": None,
        "ot": "UInt16",
        "srs": "EPSG:32643",
        "resolution": 15,
        "shape": body["shape"],
        "outputBounds": [73.473, 50.5055, 73.477, 50.5095],
        "outputBoundsSRS": "EPSG:4326",
        "outsize": None,
        "targetAlignedPixels": True,
        "resampleAlg": "near",
        "processing_level": None,
        "of": "blosc",
    }
    assert isinstance(body["shape"], str)
    assert shapely.geometry.shape(json.loads(body["shape"])).equals(shapely.geometry.shape(SQUARE))


def test_aoi_accepts_shapely_and_geo_interface_objects() -> None:
    geom = shapely.geometry.shape(SQUARE)

    class Thing:
        __geo_interface__ = SQUARE

    feature = {"type": "Feature", "geometry": SQUARE, "properties": {}}
    for value in (geom, Thing(), feature):
        assert AOI(geometry=value).geometry.equals(geom)


def test_shape_becomes_dimensions_cols_rows() -> None:
    aoi = AOI(bounds=(0, 0, 10, 20), bounds_crs="EPSG:32631", crs="EPSG:32631", shape=(48, 64))
    params = aoi.raster_params
    assert params["dimensions"] == (64, 48)
    assert params["resolution"] is None
    assert params["cutline"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"resolution": 10, "shape": (2, 2)}, "resolution or shape"),
        ({"resolution": -1}, "positive"),
        ({"resolution": 0}, "positive"),
        ({"resolution": "15"}, "number"),
        ({"shape": (0, 5)}, "shape"),
        ({"shape": (2.5, 5)}, "shape"),
        ({"shape": (5,)}, "shape"),
        ({"bounds": (1, 0, 0, 1)}, "inverted"),
        ({"bounds": (0, 0, 1)}, "4 finite numbers"),
        ({"bounds": (0, 0, 1, float("nan"))}, "4 finite numbers"),
        ({"bounds": "abcd"}, "4 numbers"),
        ({"bounds": (391395.0, 5595810.0, 392355.0, 5596530.0)}, "bounds_crs"),
        ({"crs": "EPSG:999999"}, "crs"),
        ({"bounds": (0, 0, 1, 1), "bounds_crs": "not a crs"}, "bounds_crs"),
        ({"bounds": (0, 0, 1, 1), "bounds_crs": None}, "bounds_crs"),
        ({"align_pixels": None}, "align_pixels"),
        ({"geometry": {"type": "Point", "coordinates": [1, 2]}}, "Polygon"),
        ({"geometry": {"type": "Polygon"}}, "GeoJSON"),
        ({"geometry": 42}, "GeoJSON"),
        ({"geometry": SQUARE, "bounds": (0, 0, 1, 1)}, "outside"),
    ],
)
def test_aoi_rejects_bad_input_clearly(kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as info:
        AOI(**kwargs)
    assert isinstance(info.value, ValueError)


def test_projected_geometry_coordinates_are_rejected() -> None:
    polygon = shapely.geometry.box(391395.0, 5595810.0, 392355.0, 5596530.0)
    with pytest.raises(InvalidInput, match="longitude/latitude"):
        AOI(geometry=polygon)


@pytest.mark.parametrize(
    ("kwargs", "missing"),
    [
        ({"geometry": SQUARE, "resolution": 15}, "crs"),
        ({"geometry": SQUARE, "crs": "EPSG:32643"}, "resolution or shape"),
        ({"crs": "EPSG:32643", "resolution": 15}, "bounds"),
    ],
)
def test_raster_params_name_what_is_missing(kwargs: dict, missing: str) -> None:
    with pytest.raises(InvalidInput, match=missing):
        _ = AOI(**kwargs).raster_params


def test_assign_returns_a_new_validated_context() -> None:
    aoi = AOI(geometry=SQUARE, resolution=15, crs="EPSG:32643")
    coarser = aoi.assign(resolution=30)
    assert coarser.resolution == 30 and aoi.resolution == 15
    assert coarser.bounds == aoi.bounds and coarser.crs == aoi.crs
    with pytest.raises(dataclasses.FrozenInstanceError):
        aoi.resolution = 60  # type: ignore[misc]
    with pytest.raises(InvalidInput):
        aoi.assign(resolution=-5)
    assert aoi.resolution == 15


def test_assign_switches_between_resolution_and_shape() -> None:
    aoi = AOI(geometry=SQUARE, resolution=15, crs="EPSG:32643")
    by_shape = aoi.assign(shape=(10, 20))
    assert by_shape.resolution is None and by_shape.shape == (10, 20)
    back = by_shape.assign(resolution=30)
    assert back.shape is None and back.resolution == 30
    with pytest.raises(InvalidInput, match="not both"):
        aoi.assign(resolution=5, shape=(2, 2))


def test_assign_geometry_rederives_bounds() -> None:
    aoi = AOI(geometry=SQUARE, resolution=15, crs="EPSG:32643")
    moved = aoi.assign(geometry=shapely.geometry.box(10, 10, 11, 12))
    assert moved.bounds == (10, 10, 11, 12)


def test_geo_interface_is_the_geometry_or_the_wgs84_bounds() -> None:
    assert shapely.geometry.shape(AOI(geometry=SQUARE).__geo_interface__).equals(
        shapely.geometry.shape(SQUARE)
    )
    native = AOI(
        bounds=(391395.0, 5583660.0, 392355.0, 5596530.0),
        bounds_crs=UTM43,
        crs=UTM43,
        resolution=15,
        align_pixels=False,
    )
    minx, miny, maxx, maxy = shapely.geometry.shape(native.__geo_interface__).bounds
    assert 73.4 < minx < maxx < 73.5 and 50.3 < miny < maxy < 50.6


TILE = {
    "type": "Feature",
    "geometry": {
        "type": "Polygon",
        "coordinates": [
            [[59.88, 44.89], [60.08, 44.90], [60.07, 45.04], [59.87, 45.04], [59.88, 44.89]]
        ],
    },
    "properties": {
        "key": "1024:16:15.0:41:-16:324",
        "cs_code": "EPSG:32641",
        "zone": 41,
        "ti": -16,
        "tj": 324,
        "resolution": 15.0,
        "tilesize": 1024,
        "pad": 16,
        "outputBounds": [254000.0, 4976400.0, 269840.0, 4992240.0],
    },
}


def test_dltile_sends_only_its_key() -> None:
    tile = DLTile(TILE)
    assert tile.raster_params == {"dltile": "1024:16:15.0:41:-16:324", "align_pixels": False}
    assert tile.crs == "EPSG:32641" and tile.tilesize == 1024 and tile.pad == 16
    assert tile.bounds == (254000.0, 4976400.0, 269840.0, 4992240.0)
    body = raster_body("id", **tile.raster_params)
    assert body["dltile"] == "1024:16:15.0:41:-16:324" and body["targetAlignedPixels"] is False


def test_dltile_rejects_an_incomplete_feature() -> None:
    broken = {**TILE, "properties": {k: v for k, v in TILE["properties"].items() if k != "zone"}}
    with pytest.raises(InvalidInput, match="zone"):
        DLTile(broken)

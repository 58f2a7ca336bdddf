"""DLTiles (§4.5): the docstring examples, round trips, and paging over a shape."""

from __future__ import annotations

import json

import pytest
import shapely.geometry
import shapely.ops
from rasterio.crs import CRS

from rastercat.errors import InvalidInput
from rastercat.raster.dltile import (
    dltile_from_key,
    dltile_from_latlon,
    dltile_grid,
    dltiles_from_shape,
)

KEY = "1024:16:15.0:41:-16:324"


def test_docstring_example() -> None:
    tile = dltile_from_key(KEY)
    props = tile["properties"]
    assert props["outputBounds"] == [254000.0, 4976400.0, 269840.0, 4992240.0]
    assert props["cs_code"] == "EPSG:32641" and (props["zone"], props["ti"], props["tj"]) == (
        41,
        -16,
        324,
    )
    assert props["geotrans"] == [254000.0, 15.0, 0, 4992240.0, 0, -15.0]
    assert CRS.from_wkt(props["wkt"]).to_epsg() == 32641
    ring = tile["geometry"]["coordinates"][0]
    assert ring[0] == pytest.approx([59.88428127486419, 44.8985115884728])
    assert ring[2] == pytest.approx([60.077403974563175, 45.046212550598135])


def test_from_latlon_matches_the_docstring_and_round_trips() -> None:
    tile = dltile_from_latlon(45.0, 60.0, 15.0, 1024, 16)
    assert tile["properties"]["key"] == KEY
    assert dltile_from_key(tile["properties"]["key"]) == tile
    assert shapely.geometry.shape(tile["geometry"]).contains(shapely.geometry.Point(60, 45))


def test_southern_point_is_inside_its_tile() -> None:
    tile = dltile_from_latlon(-33.9, 18.4, 30.0, 512, 0)
    assert tile["properties"]["tj"] < 0
    assert shapely.geometry.shape(tile["geometry"]).contains(shapely.geometry.Point(18.4, -33.9))


def test_grid_of_a_key() -> None:
    grid = dltile_grid("128:16:960.0:15:-2:37")
    assert grid.shape == (160, 160)
    assert grid.bounds == pytest.approx(
        tuple(dltile_from_key("128:16:960.0:15:-2:37")["properties"]["outputBounds"])
    )


@pytest.mark.parametrize(
    "key", ["", "1:2:3", "a:16:15:41:1:1", "1024:16:15:61:1:1", "0:0:15:41:1:1", "8:0:-1:41:1:1"]
)
def test_malformed_keys_are_invalid(key: str) -> None:
    with pytest.raises(InvalidInput):
        dltile_from_key(key)


def test_from_shape_pages_cover_the_shape_across_zones() -> None:
    shape = {
        "type": "Polygon",
        "coordinates": [[[59.5, 44.5], [60.5, 44.5], [60.5, 45.5], [59.5, 45.5], [59.5, 44.5]]],
    }
    everything = dltiles_from_shape(json.dumps(shape), 960.0, 128, 8, maxtiles=10_000)
    assert everything["iterstate"] is None
    keys = [f["properties"]["key"] for f in everything["features"]]
    assert {f["properties"]["zone"] for f in everything["features"]} == {40, 41}
    union = shapely.ops.unary_union(
        [shapely.geometry.shape(f["geometry"]) for f in everything["features"]]
    )
    assert union.buffer(1e-6).contains(shapely.geometry.shape(shape))

    paged, state = [], {}
    while True:
        page = dltiles_from_shape(json.dumps(shape), 960.0, 128, 8, maxtiles=3, **state)
        paged += [f["properties"]["key"] for f in page["features"]]
        if not page["iterstate"]:
            break
        state = page["iterstate"]
    assert paged == keys and len(set(keys)) == len(keys)


def test_from_shape_rejects_bad_input() -> None:
    with pytest.raises(InvalidInput):
        dltiles_from_shape("{}", 960.0, 128, 8)
    with pytest.raises(InvalidInput):
        dltiles_from_shape('{"type": "Point", "coordinates": [1, 2]}', 960.0, 128, 8, maxtiles=0)

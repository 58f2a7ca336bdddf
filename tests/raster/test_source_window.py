"""Which part of an output grid a source covers: from the source's bounds in the grid's CRS,
worked out once per image and CRS (every tile of an image asks again), never a different answer."""

from __future__ import annotations

import math

import morecantile
from rasterio.crs import CRS
from rasterio.warp import transform as transform_points
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from rastercat.raster.read import _bounds_in, source_window
from rastercat.raster.tiles import tile_grid
from rastercat.raster.types import SourceImage

UTM43 = CRS.from_epsg(32643)


def image(crs: CRS, geotrans: tuple[float, ...], size: tuple[int, int], name: str) -> SourceImage:
    return SourceImage(f"ns:p:{name}", f"/data/{name}.tif", ("b1",), crs.to_wkt(), geotrans, size)  # type: ignore[arg-type]


def test_the_window_is_the_sources_footprint_on_the_grid_and_is_remembered() -> None:
    src = image(UTM43, (391395.0, 10.0, 0.0, 5596530.0, 0.0, -10.0), (4096, 4096), "utm")
    # A zoom-12 tile at the image's centre, and one far away.
    (lon,), (lat,) = transform_points(UTM43, "EPSG:4326", [391395.0 + 20480], [5596530.0 - 20480])
    t = morecantile.tms.get("WebMercatorQuad").tile(lon, lat, 12)
    inside, outside = tile_grid(12, t.x, t.y), tile_grid(12, 100, 100)
    minx, miny, maxx, maxy = transform_bounds(UTM43, inside.crs, *src.bounds, densify_pts=21)
    inv = ~inside.transform
    cols, rows = zip(
        *(inv @ p for p in ((minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy))), strict=True
    )
    c0, r0 = max(0, math.floor(min(cols)) - 1), max(0, math.floor(min(rows)) - 1)
    c1 = min(inside.width, math.ceil(max(cols)) + 1)
    r1 = min(inside.height, math.ceil(max(rows)) + 1)
    assert c1 > c0 and r1 > r0, "the test tile must overlap the image"
    before = _bounds_in.cache_info()
    assert source_window(src, inside) == Window(c0, r0, c1 - c0, r1 - r0)
    assert source_window(src, outside) is None
    after = _bounds_in.cache_info()
    assert after.hits - before.hits >= 1  # the second tile reused the first one's transformation
    assert after.misses - before.misses <= 1


def test_bounds_that_cannot_be_transformed_leave_the_whole_grid_to_the_warper() -> None:
    # An engineering CRS: PROJ knows no way from it to Web Mercator.
    local = CRS.from_wkt('LOCAL_CS["arbitrary",UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]')
    src = image(local, (0.0, 1.0, 0.0, 100.0, 0.0, -1.0), (100, 100), "local")
    grid = tile_grid(2, 1, 0)
    assert source_window(src, grid) == Window(0, 0, grid.width, grid.height)
    assert source_window(src, grid) == Window(0, 0, grid.width, grid.height)  # and when remembered


def test_a_grid_in_another_crs_is_its_own_entry() -> None:
    src = image(UTM43, (391395.0, 10.0, 0.0, 5596530.0, 0.0, -10.0), (100, 100), "small")
    lonlat = CRS.from_epsg(4326)
    web = tile_grid(12, 100, 100).crs
    assert _bounds_in(src.crs_wkt, src.bounds, lonlat) != _bounds_in(src.crs_wkt, src.bounds, web)
    expected = transform_bounds(UTM43, lonlat, *src.bounds, densify_pts=21)
    assert _bounds_in(src.crs_wkt, src.bounds, lonlat) == tuple(expected)

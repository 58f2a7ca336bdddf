"""The values of one image's bands at a lon/lat point.

The pixel is read through the raster engine's ``read`` onto a one-pixel grid that is exactly the
image's own pixel under the point: the value is the stored one (no resampling, no overview), and
nodata and alpha masking are the engine's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as transform_points

from rastercat.raster.convert import is_nodata, numpy_dtype
from rastercat.raster.read import read
from rastercat.raster.types import BandInfo, Grid, SourceImage


def _pixel_grid(source: SourceImage, lon: float, lat: float) -> Grid | None:
    """The image's own pixel under (lon, lat) as a 1 x 1 grid, or None when outside the image."""
    crs = CRS.from_wkt(source.crs_wkt)
    xs, ys = transform_points("EPSG:4326", crs, [lon], [lat])
    x, y = xs[0], ys[0]
    if not (math.isfinite(x) and math.isfinite(y)):
        return None
    col_f, row_f = ~source.transform @ (x, y)
    col, row = math.floor(col_f), math.floor(row_f)
    width, height = source.raster_size
    if not (0 <= col < width and 0 <= row < height):
        return None
    return Grid(
        crs=crs, transform=source.transform @ Affine.translation(col, row), width=1, height=1
    )


def _number(value: Any, band: BandInfo) -> float | int | None:
    """A JSON number of the band's own type (a read of mixed types works in a wider one)."""
    item = value.item()
    if isinstance(item, float) and not math.isfinite(item):
        return None
    if numpy_dtype(band.dtype, "bands").kind in "iu":
        return int(item)
    return float(item)


def pixel_values(
    source: SourceImage, bands: Sequence[BandInfo], lon: float, lat: float
) -> dict[str, float | int | None] | None:
    """Every band's value at the point in one image; None when the point is outside the image.
    Call inside the object store's GDAL environment."""
    grid = _pixel_grid(source, lon, lat)
    if grid is None:
        return None
    result = read([source], bands, grid, resampling="near", use_overviews=False)
    valid = bool(result.mask[0, 0])
    out: dict[str, float | int | None] = {}
    for j, band in enumerate(bands):
        if (
            not valid
            or source.band_index(band.name) is None
            or (band.nodata is not None and bool(is_nodata(result.data[j], band.nodata)[0, 0]))
        ):
            out[band.name] = None
        else:
            out[band.name] = _number(result.data[j, 0, 0], band)
    return out

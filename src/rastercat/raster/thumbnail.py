"""A small PNG of a whole image, drawn by the same reader and stretch as the map tiles."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from rastercat.raster.png import encode_png
from rastercat.raster.read import read
from rastercat.raster.tiles import _range_of, _stretch
from rastercat.raster.types import BandInfo, Grid, SourceImage

THUMBNAIL_SIDE = 256


def thumbnail_bands(bands: Sequence[BandInfo]) -> list[BandInfo]:
    """Red, green and blue when the image has them, else its first band that is not alpha."""
    visible = [b for b in bands if not b.is_alpha]
    by_name = {b.name.lower(): b for b in visible}
    if all(c in by_name for c in ("red", "green", "blue")):
        return [by_name["red"], by_name["green"], by_name["blue"]]
    return visible[:1] or list(bands[:1])


def render_thumbnail(
    source: SourceImage, bands: Sequence[BandInfo], side: int = THUMBNAIL_SIDE
) -> bytes:
    """The image on its own grid, shrunk so that its longer side is ``side`` pixels, as PNG."""
    width, height = source.raster_size
    scale = max(width, height) / side if max(width, height) > side else 1.0
    w, h = max(1, round(width / scale)), max(1, round(height / scale))
    gt = Affine.from_gdal(*source.geotrans)
    grid = Grid(CRS.from_wkt(source.crs_wkt), gt @ Affine.scale(width / w, height / h), w, h)
    shown = thumbnail_bands(bands)
    result = read([source], shown, grid, resampling="average")
    out = np.zeros((len(shown), h, w), dtype=np.uint8)
    for i, band in enumerate(shown):
        out[i] = _stretch(result.data[i], *_range_of(band, result.data[i], result.mask))
    mask = np.where(result.mask, 255, 0).astype(np.uint8)
    return encode_png(out, mask)

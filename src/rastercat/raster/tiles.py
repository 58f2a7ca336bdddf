"""XYZ web-mercator tiles for the viewer: the read engine onto a morecantile tile, rendered by rio-tiler.

Tiles go through :func:`rastercat.raster.read.read` so that they mosaic, mask (nodata, alpha) and use
overviews exactly like ``/npz`` reads do; rio-tiler does the stretch-free colormap and PNG encoding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from rastercat.errors import InvalidInput
from rastercat.raster.colormaps import Colormap, named_colormap
from rastercat.raster.read import read, source_window
from rastercat.raster.types import BandInfo, Grid, SourceImage

WEB_MERCATOR = CRS.from_epsg(3857)
_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}


def tile_grid(z: int, x: int, y: int, tilesize: int = 256) -> Grid:
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    if z < 0 or not (0 <= x < 2**z and 0 <= y < 2**z):
        raise InvalidInput(f"No tile {z}/{x}/{y}", field="tile")
    if not 1 <= tilesize <= 1024:
        raise InvalidInput("tilesize must be in 1..1024", field="tilesize")
    b = tms.xy_bounds(morecantile.Tile(x, y, z))
    res_x = (b.right - b.left) / tilesize
    res_y = (b.top - b.bottom) / tilesize
    return Grid(WEB_MERCATOR, Affine(res_x, 0, b.left, 0, -res_y, b.top), tilesize, tilesize)


def _stretch(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi == lo:
        return np.where(values >= hi, 255, 0).astype(np.uint8)
    scaled = (values.astype(np.float64) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _range_of(band: BandInfo, values: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    if band.default_range is not None:
        return band.default_range
    if band.data_range is not None:
        return band.data_range
    if valid.any():  # no declared range: stretch the tile's own values
        v = values[valid]
        return float(v.min()), float(v.max())
    return 0.0, 255.0


def render_tile(
    sources: Sequence[SourceImage],
    bands: list[BandInfo],
    z: int,
    x: int,
    y: int,
    *,
    tilesize: int = 256,
    rescale: list[tuple[float, float]] | None = None,
    colormap: Colormap | str | None = None,
    fmt: str = "png",
    resampling: str = "near",
) -> bytes | None:
    """One tile of 1 band (optionally colormapped) or 3 bands (RGB); None outside every source."""
    from rio_tiler.utils import render

    if len(bands) not in (1, 3):
        raise InvalidInput("A tile shows 1 band or 3 bands (RGB)", field="bands")
    if rescale is not None and len(rescale) not in (1, len(bands)):
        raise InvalidInput("rescale needs one [min, max] or one per band", field="rescale")
    img_format = _FORMATS.get(fmt.lower())
    if img_format is None:
        raise InvalidInput(f"Unknown tile format {fmt!r}", field="format")
    cmap = named_colormap(colormap) if isinstance(colormap, str) else colormap
    if cmap is not None and len(bands) != 1:
        raise InvalidInput("A colormap applies to a single band", field="colormap")

    grid = tile_grid(z, x, y, tilesize)
    if all(source_window(s, grid) is None for s in sources):
        return None
    result = read(sources, bands, grid, resampling=resampling)
    if not result.mask.any():
        return None

    out = np.zeros(result.data.shape, dtype=np.uint8)
    for i, band in enumerate(bands):
        values = result.data[i]
        if rescale is not None:
            lo, hi = rescale[i if len(rescale) > 1 else 0]
            out[i] = _stretch(values, lo, hi)
        elif cmap is not None:
            # A colormap indexes raw values: show them as they are (0..255).
            out[i] = np.clip(values, 0, 255).astype(np.uint8)
        else:
            out[i] = _stretch(values, *_range_of(band, values, result.mask))
    mask = np.where(result.mask, 255, 0).astype(np.uint8)
    return render(out, mask, img_format=img_format, colormap=cmap)

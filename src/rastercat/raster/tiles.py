"""XYZ web-mercator tiles for the viewer: the read engine onto a morecantile tile, then a PNG, JPEG or WebP.

Tiles go through :func:`rastercat.raster.read.read` so that they mosaic, mask (nodata, alpha) and use
overviews exactly like ``/npz`` reads do; PNGs are encoded by :mod:`rastercat.raster.png` (Pillow,
outside the GIL), JPEG and WebP by rio-tiler.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from rastercat.errors import InvalidInput
from rastercat.raster.colormaps import Colormap, named_colormap
from rastercat.raster.png import encode_png
from rastercat.raster.read import read, source_window
from rastercat.raster.types import BandInfo, Grid, SourceImage

WEB_MERCATOR = CRS.from_epsg(3857)
_FORMATS = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}

MAX_ZOOM = 30
"""Deepest zoom served: a zoom-30 pixel is about 0.1 mm, and 2**30 still fits every int type."""
MIN_TILESIZE, MAX_TILESIZE = 16, 1024
"""Tile sides a request may ask for (256 and 512 are the usual ones)."""


def check_tile(z: int, x: int, y: int) -> None:
    """Refuse a tile outside the Web Mercator pyramid, before any arithmetic on it."""
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"Invalid z: a zoom is from 0 to {MAX_ZOOM}, got {z}", field="z")
    n = 1 << z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < n:
            raise InvalidInput(
                f"Invalid {name}: at zoom {z} a tile's {name} is from 0 to {n - 1}, got {value}",
                field=name,
            )


def check_tilesize(tilesize: int) -> None:
    if not MIN_TILESIZE <= tilesize <= MAX_TILESIZE:
        raise InvalidInput(
            f"'tilesize' must be from {MIN_TILESIZE} to {MAX_TILESIZE} pixels", field="tilesize"
        )


def tile_grid(z: int, x: int, y: int, tilesize: int = 256) -> Grid:
    import morecantile

    check_tile(z, x, y)
    check_tilesize(tilesize)
    tms = morecantile.tms.get("WebMercatorQuad")
    b = tms.xy_bounds(morecantile.Tile(x, y, z))
    res_x = (b.right - b.left) / tilesize
    res_y = (b.top - b.bottom) / tilesize
    return Grid(WEB_MERCATOR, Affine(res_x, 0, b.left, 0, -res_y, b.top), tilesize, tilesize)


def _stretch(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    if hi == lo:
        return np.where(values >= hi, 255, 0).astype(np.uint8)
    # Multiply before dividing, so that exact midpoints (100 of 0..200) stay exact.
    scaled = (values.astype(np.float64) - lo) * 255.0 / (hi - lo)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def declared_range(band: BandInfo) -> tuple[float, float] | None:
    """The display range the catalog declares for a band: ``default_range``, else ``data_range``."""
    return band.default_range if band.default_range is not None else band.data_range


def _range_of(band: BandInfo, values: np.ndarray, valid: np.ndarray) -> tuple[float, float]:
    declared = declared_range(band)
    if declared is not None:
        return declared
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
    alpha: BandInfo | None = None,
) -> bytes | None:
    """One tile of 1 band (optionally colormapped) or 3 bands (RGB); None outside every source.

    The stretch is ``rescale``, else the band's declared range (else, without a colormap, the
    tile's own min/max); a colormap then maps the stretched 0..255 values, as the catalog's display
    does. ``alpha`` is the product's alpha band: where it is 0 the tile is transparent.
    """
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
    wanted = [*bands, alpha] if alpha is not None else list(bands)
    result = read(sources, wanted, grid, resampling=resampling)
    if not result.mask.any():
        return None

    out = np.zeros((len(bands), *grid.shape), dtype=np.uint8)
    for i, band in enumerate(bands):
        values = result.data[i]
        if rescale is not None:
            lo, hi = rescale[i if len(rescale) > 1 else 0]
            out[i] = _stretch(values, lo, hi)
        elif cmap is not None and declared_range(band) is None:
            # No range to stretch by: the colormap indexes the raw values (0..255).
            out[i] = np.clip(values, 0, 255).astype(np.uint8)
        else:
            out[i] = _stretch(values, *_range_of(band, values, result.mask))
    mask = np.where(result.mask, 255, 0).astype(np.uint8)
    if img_format == "PNG":
        return encode_png(out, mask, cmap)
    return render(out, mask, img_format=img_format, colormap=cmap)


def empty_tile(tilesize: int = 256, fmt: str = "png") -> bytes:
    """A fully transparent tile (JPEG has no alpha: black), for web maps that dislike 204/404."""
    from rio_tiler.utils import render

    img_format = _FORMATS.get(fmt.lower())
    if img_format is None:
        raise InvalidInput(f"Unknown tile format {fmt!r}", field="format")
    check_tilesize(tilesize)
    blank = np.zeros((1, tilesize, tilesize), dtype=np.uint8)
    mask = np.zeros((tilesize, tilesize), np.uint8)
    if img_format == "PNG":
        return encode_png(blank, mask)
    return render(blank, mask, img_format=img_format)

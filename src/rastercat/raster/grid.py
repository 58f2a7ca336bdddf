"""Planning the output grid of a raster read, with gdalwarp's semantics, and capping its size.

``-t_srs srs -te outputBounds -te_srs outputBoundsSRS -tr resolution | -ts outsize -tap``.
Nothing here opens a raster: the grid, and the caps on it, are settled before any pixel is read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from affine import Affine
from numpy.typing import DTypeLike
from rasterio.crs import CRS
from rasterio.warp import calculate_default_transform, transform_bounds

from rastercat.config import Limits
from rastercat.errors import InvalidInput
from rastercat.raster.crs import request_crs
from rastercat.raster.request import RasterRequest
from rastercat.raster.types import Grid, SourceImage

_DENSIFY = 21
MAX_COORDINATE = 1e10
"""Largest absolute grid coordinate, in CRS units: 250 times the Earth's circumference in metres.
GDAL's warper was measured to hang on a Web Mercator grid of 1e20 m pixels."""


def _reproject_bounds(
    src: CRS, dst: CRS, bounds: tuple[float, float, float, float], field: str
) -> tuple[float, float, float, float]:
    if src == dst:
        return bounds
    try:
        out = transform_bounds(src, dst, *bounds, densify_pts=_DENSIFY)
    except Exception as exc:
        raise InvalidInput(
            f"Invalid {field}: cannot transform bounds ({exc})", field=field
        ) from None
    if not all(math.isfinite(v) for v in out):
        raise InvalidInput(f"Invalid {field}: bounds are outside the target CRS", field=field)
    return out


def _native_resolution(src: SourceImage, src_crs: CRS, dst_crs: CRS) -> tuple[float, float]:
    t = src.transform
    if src_crs == dst_crs:
        return abs(t.a), abs(t.e)
    # gdalwarp's suggested output resolution: square pixels that keep the pixel count.
    w, h = src.raster_size
    dt, _, _ = calculate_default_transform(src_crs, dst_crs, w, h, *src.bounds)
    return abs(dt.a), abs(dt.e)


def read_memory(
    width: int,
    height: int,
    n_bands: int,
    work_dtype: DTypeLike,
    out_dtype: DTypeLike,
    *,
    scaled: bool = False,
) -> int:
    """An upper bound of the bytes :func:`rastercat.raster.read.read` and an encoder allocate.

    With ``P = width * height`` pixels, ``n`` bands, ``w`` the working itemsize (the bands'
    common dtype: the canvas is painted in it, whatever ``ot`` says) and ``o`` the output's::

        P * ( n * w          the canvas
            + (n + 1) * w    one source's warped window (the whole grid at most, plus alpha)
            + (n + 1)        its fill test (bool per band)
            + n * o          the output array
            + 2 * n * o      the encoder's buffer and the copy it returns
            + 8              bool masks: coverage, footprint, validity, nodata, cutline...
            + 8 if scaled )  one band's float64 scaling (``scales``)
    """
    n = max(n_bands, 1)
    w, o = np.dtype(work_dtype).itemsize, np.dtype(out_dtype).itemsize
    per_pixel = n * w + (n + 1) * w + (n + 1) + n * o + 2 * n * o + 8 + (8 if scaled else 0)
    return width * height * per_pixel


def check_output_size(
    width: int,
    height: int,
    n_bands: int,
    dtype: DTypeLike,
    limits: Limits,
    work_dtype: DTypeLike | None = None,
    scaled: bool = False,
) -> None:
    """Refuse an output above ``limits`` before anything is read: its side, its size in the output
    dtype (``max_output_bytes``) and the memory its read allocates (``max_read_bytes``)."""
    if width > limits.max_output_side or height > limits.max_output_side:
        raise InvalidInput(
            f"Requested output of {width} x {height} pixels exceeds max_output_side "
            f"({limits.max_output_side}); request a coarser resolution or smaller bounds",
            field="resolution",
            width=width,
            height=height,
        )
    nbytes = width * height * max(n_bands, 1) * np.dtype(dtype).itemsize
    if nbytes > limits.max_output_bytes:
        raise InvalidInput(
            f"Requested output of {width} x {height} x {n_bands} bands ({nbytes} bytes) exceeds "
            f"max_output_bytes ({limits.max_output_bytes}); request a coarser resolution, smaller "
            "bounds or fewer bands",
            field="resolution",
            width=width,
            height=height,
            bytes=nbytes,
        )
    work = dtype if work_dtype is None else work_dtype
    memory = read_memory(width, height, n_bands, work, dtype, scaled=scaled)
    if memory > limits.max_read_bytes:
        raise InvalidInput(
            f"Reading {width} x {height} x {n_bands} bands of {np.dtype(work).name} needs about "
            f"{memory} bytes of memory, above max_read_bytes ({limits.max_read_bytes}); request a "
            "coarser resolution, smaller bounds or fewer bands",
            field="resolution",
            width=width,
            height=height,
            bytes=memory,
        )


def grid_from_bounds(
    crs: CRS,
    bounds: tuple[float, float, float, float],
    *,
    resolution: tuple[float, float] | None = None,
    size: tuple[int, int] | None = None,
    tap: bool = False,
) -> Grid:
    """A north-up grid over ``bounds`` with either a resolution (``-tr``) or a size (``-ts``)."""
    minx, miny, maxx, maxy = bounds
    if size is not None:
        width, height = size
        xres, yres = (maxx - minx) / width, (maxy - miny) / height
    else:
        if resolution is None:
            raise InvalidInput(
                "Either a resolution or an output size is required", field="resolution"
            )
        xres, yres = resolution
        if tap:
            minx = math.floor(minx / xres) * xres
            maxx = math.ceil(maxx / xres) * xres
            miny = math.floor(miny / yres) * yres
            maxy = math.ceil(maxy / yres) * yres
        # gdalwarp: nPixels = (int)((maxx - minx + xres / 2) / xres); a tiny AOI still gets a pixel.
        fw, fh = (maxx - minx) / xres + 0.5, (maxy - miny) / yres + 0.5
        if not (math.isfinite(fw) and math.isfinite(fh)):
            raise InvalidInput(
                "Invalid resolution: the output size is not finite", field="resolution"
            )
        width, height = max(1, int(fw)), max(1, int(fh))
    grid = Grid(
        crs=crs, transform=Affine(xres, 0.0, minx, 0.0, -yres, maxy), width=width, height=height
    )
    if not all(math.isfinite(v) and abs(v) <= MAX_COORDINATE for v in grid.bounds):
        raise InvalidInput(
            f"Invalid {'outputBounds' if size is not None else 'resolution'}: the output grid "
            f"{grid.bounds} reaches past {MAX_COORDINATE:g} units of its CRS",
            field="outputBounds" if size is not None else "resolution",
        )
    return grid


def plan_grid(
    req: RasterRequest,
    sources: Sequence[SourceImage],
    limits: Limits,
    n_bands: int,
    dtype: DTypeLike,
    work_dtype: DTypeLike | None = None,
) -> Grid:
    """The output grid of ``req`` over ``sources``, refused with :class:`InvalidInput` above the caps.

    ``dtype`` is the output's data type, ``work_dtype`` the bands' common one (default: ``dtype``).
    """
    if req.dltile:
        from rastercat.raster.dltile import dltile_grid

        grid = dltile_grid(req.dltile)
    else:
        if not sources:
            raise InvalidInput("No images to read", field="ids")
        first = sources[0]
        src_crs = CRS.from_wkt(first.crs_wkt)
        dst_crs = request_crs(req.srs, "srs") if req.srs else src_crs
        if dst_crs == src_crs:
            dst_crs = src_crs  # keep the source's definition (with its EPSG code) in the output

        if req.outputBounds is not None:
            bounds_crs = (
                request_crs(req.outputBoundsSRS, "outputBoundsSRS")
                if req.outputBoundsSRS
                else dst_crs
            )
            bounds = _reproject_bounds(bounds_crs, dst_crs, req.outputBounds, "outputBounds")
        else:
            boxes = [
                _reproject_bounds(CRS.from_wkt(s.crs_wkt), dst_crs, s.bounds, "srs")
                for s in sources
            ]
            bounds = (
                min(b[0] for b in boxes),
                min(b[1] for b in boxes),
                max(b[2] for b in boxes),
                max(b[3] for b in boxes),
            )

        if req.outsize is not None:
            grid = grid_from_bounds(dst_crs, bounds, size=req.outsize)
        else:
            res = (
                (req.resolution, req.resolution)
                if req.resolution is not None
                else _native_resolution(first, src_crs, dst_crs)
            )
            # gdalwarp only honours -tap together with -tr.
            tap = bool(req.targetAlignedPixels) and req.resolution is not None
            grid = grid_from_bounds(dst_crs, bounds, resolution=res, tap=tap)
    scaled = any(s is not None for s in req.scales or ())
    check_output_size(grid.width, grid.height, n_bands, dtype, limits, work_dtype, scaled)
    return grid

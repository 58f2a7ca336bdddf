"""Per-band statistics of a COG, read from one of its overviews so big files stay cheap.

The statistics describe the valid pixels only: a pixel is left out where the dataset mask says
so (nodata, an internal mask), where it equals its band's nodata, is NaN, or where the catalog's
alpha band is 0. They come from the finest overview whose longer side is at most
:data:`STATS_SIDE` pixels (the full raster when it is that small already), so for a large raster
they are approximate: an averaged overview narrows min/max and the tails. That is what a default
display stretch needs, and it keeps the cost bounded whatever the upload's size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling

STATS_SIDE = 1024
"""Longer side, in pixels, of the overview (or decimated read) statistics are computed from."""
PERCENTILES = (2.0, 98.0)


@dataclass(frozen=True)
class StatsBand:
    """One COG band and how to name and mask it."""

    srcfile: int
    """The product band's srcfile: statistics are keyed as the product's bands address files."""
    srcband: int
    nodata: float | None
    alpha: bool


def _overview_level(path: Path) -> tuple[int | None, int, int]:
    """The finest overview level no longer than STATS_SIDE (None: the full raster), and the
    shape to read: decimated further when even the coarsest overview is larger."""
    with rasterio.open(path, driver="GTiff") as ds:
        width, height = ds.width, ds.height
        factors = ds.overviews(1)
    if max(width, height) <= STATS_SIDE:
        return None, height, width
    for level, factor in enumerate(factors):
        w, h = math.ceil(width / factor), math.ceil(height / factor)
        if max(w, h) <= STATS_SIDE:
            return level, h, w
    scale = max(width, height) / STATS_SIDE
    return (
        (len(factors) - 1 if factors else None),
        math.ceil(height / scale),
        math.ceil(width / scale),
    )


def _read(path: Path, level: int | None, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """All bands (count, rows, cols) and the dataset mask (rows, cols) at the chosen level."""
    opts: dict[str, Any] = {"driver": "GTiff"}
    if level is not None:
        opts["overview_level"] = level
    with rasterio.open(path, **opts) as ds:
        rows, cols = shape
        if (ds.height, ds.width) == (rows, cols):
            return ds.read(), ds.dataset_mask()
        out = (ds.count, rows, cols)
        pixels = ds.read(out_shape=out, resampling=Resampling.nearest)
        return pixels, ds.dataset_mask(out_shape=(rows, cols))


def _describe(values: np.ndarray) -> dict[str, float | None]:
    if values.size == 0:
        return dict.fromkeys(("min", "max", "mean", "stddev", "p2", "p98"))
    as_float = values.astype("float64", copy=False)
    p2, p98 = np.percentile(as_float, PERCENTILES)
    return {
        "min": float(as_float.min()),
        "max": float(as_float.max()),
        "mean": float(as_float.mean()),
        "stddev": float(as_float.std()),
        "p2": float(p2),
        "p98": float(p98),
    }


def band_statistics(path: Path, bands: list[StatsBand]) -> list[dict[str, Any]]:
    """``[{srcfile, srcband, min, max, mean, stddev, p2, p98}, …]``, one per COG band in order;
    the numbers are None for a band with no valid pixel."""
    level, rows, cols = _overview_level(path)
    pixels, dataset_mask = _read(path, level, (rows, cols))
    if pixels.shape[0] != len(bands):
        raise ValueError(f"the COG has {pixels.shape[0]} band(s), the plan {len(bands)}")
    valid = dataset_mask != 0
    for i, band in enumerate(bands):
        if band.alpha:
            valid &= pixels[i] != 0
    out = []
    for i, band in enumerate(bands):
        keep = valid.copy()
        data = pixels[i]
        if data.dtype.kind == "f":
            keep &= ~np.isnan(data)
        if band.nodata is not None and not (
            isinstance(band.nodata, float) and math.isnan(band.nodata)
        ):
            keep &= data != band.nodata
        out.append({"srcfile": band.srcfile, "srcband": band.srcband, **_describe(data[keep])})
    return out

"""Per-band value conversion: GDAL-translate-style ``-scale`` and ``-ot`` casting."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from rastercat.errors import InvalidInput
from rastercat.raster.types import GDAL_TO_NUMPY


def numpy_dtype(gdal_name: str, field: str = "ot") -> np.dtype:
    try:
        return np.dtype(GDAL_TO_NUMPY[gdal_name])
    except KeyError:
        raise InvalidInput(
            f"Invalid {field}: unknown data type {gdal_name!r}; use one of {', '.join(GDAL_TO_NUMPY)}",
            field=field,
        ) from None


def representable(value: float | None, dtype: DTypeLike) -> bool:
    """Whether ``value`` fits ``dtype`` exactly (so it can serve as a fill value)."""
    if value is None:
        return False
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return True
    if not math.isfinite(value) or value != int(value):
        return False
    info = np.iinfo(dt)
    return info.min <= value <= info.max


def fill_value(nodata: float | None, dtype: DTypeLike) -> float:
    """A band's nodata when ``dtype`` can hold it, else 0."""
    return nodata if nodata is not None and representable(nodata, dtype) else 0


def cast(values: np.ndarray, dtype: DTypeLike) -> np.ndarray:
    """Cast like GDAL's ``GDALCopyWords``: round to nearest and saturate for integer targets."""
    dt = np.dtype(dtype)
    if values.dtype == dt:
        return values
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if values.dtype.kind == "f":
            values = np.rint(np.nan_to_num(values, nan=0.0))
        src_info = np.iinfo(values.dtype) if values.dtype.kind in "iu" else None
        if src_info is None or src_info.min < info.min or src_info.max > info.max:
            values = np.clip(values, info.min, info.max)
    return values.astype(dt)


def scale_band(values: np.ndarray, scale: Sequence[float]) -> np.ndarray:
    """``[smin, smax]`` maps to 0..255, ``[smin, smax, dmin, dmax]`` to dmin..dmax (float64)."""
    smin, smax = float(scale[0]), float(scale[1])
    dmin, dmax = (0.0, 255.0) if len(scale) == 2 else (float(scale[2]), float(scale[3]))
    ratio = (dmax - dmin) / (smax - smin)
    return (values.astype(np.float64) - smin) * ratio + dmin


def is_nodata(values: np.ndarray, nodata: float) -> np.ndarray:
    if isinstance(nodata, float) and math.isnan(nodata):
        return np.isnan(values) if values.dtype.kind == "f" else np.zeros(values.shape, bool)
    return values == nodata

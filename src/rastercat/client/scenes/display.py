"""``scenes.display``: show arrays with matplotlib (the ``plot`` extra); purely client-side (§5.4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from rastercat.errors import InvalidInput

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["display", "to_rgba"]


def _stretch(data: np.ndarray, valid: np.ndarray, robust: bool) -> np.ndarray:
    """Scale to 0–1 over the valid pixels: 2–98 percentiles when robust, else min–max."""
    values = data[valid]
    if values.size == 0:
        return np.zeros(data.shape, dtype=float)
    lo, hi = np.percentile(values, (2, 98)) if robust else (values.min(), values.max())
    if hi <= lo:
        return np.where(data > lo, 1.0, 0.0) if hi == lo else np.zeros(data.shape)
    return np.clip((data.astype(float) - lo) / (hi - lo), 0, 1)


def to_rgba(
    array: Any, bands_axis: int = 0, robust: bool = True, colormap: str | None = None
) -> np.ndarray:
    """A (y, x, 4) float image: 1 band through ``colormap``, 3 bands as RGB, 4 as RGB + alpha.

    Masked pixels (and alpha == 0) are fully transparent.
    """
    import matplotlib

    arr = np.ma.asarray(array)
    if arr.ndim == 3:
        arr = np.ma.MaskedArray(np.moveaxis(arr, bands_axis, -1))
    elif arr.ndim == 2:
        arr = arr[..., np.newaxis]
    else:
        raise InvalidInput(f"display needs a 2-D or 3-D array, not {arr.ndim}-D")
    n = arr.shape[-1]
    if n not in (1, 3, 4):
        raise InvalidInput(f"display needs 1, 3 or 4 bands, not {n} (check bands_axis)")
    data = np.asarray(arr.filled(0) if np.ma.is_masked(arr) else arr.data, dtype=float)
    invalid = np.asarray(np.ma.getmaskarray(arr).any(axis=-1), dtype=bool)
    if n == 4:
        invalid |= data[..., 3] == 0
    if n == 1:
        scaled = _stretch(data[..., 0], ~invalid, robust)
        rgba = matplotlib.colormaps[colormap or "gray"](scaled)
    else:
        rgba = np.ones(data.shape[:2] + (4,))
        rgba[..., :3] = _stretch(
            data[..., :3], np.broadcast_to(~invalid[..., None], data[..., :3].shape), robust
        )
    rgba[..., 3] = np.where(invalid, 0.0, 1.0)
    return rgba


def display(
    *arrays: Any,
    bands_axis: int = 0,
    title: str | Sequence[str] | None = None,
    size: float = 10,
    robust: bool = True,
    interpolation: str = "bilinear",
    colormap: str | None = None,
) -> Figure:
    """Show one or more arrays side by side and return the matplotlib Figure."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("display needs matplotlib: pip install 'rastercat[plot]'") from exc
    if not arrays:
        raise InvalidInput("display needs at least one array")
    titles = [title] * len(arrays) if isinstance(title, str) or title is None else list(title)
    if len(titles) != len(arrays):
        raise InvalidInput(f"{len(titles)} titles for {len(arrays)} arrays")
    images = [to_rgba(a, bands_axis, robust, colormap) for a in arrays]
    figure, axes = plt.subplots(1, len(images), figsize=(size * len(images), size), squeeze=False)
    for ax, image, name in zip(axes[0], images, titles, strict=True):
        ax.imshow(image, interpolation=interpolation)
        ax.set_axis_off()
        if name:
            ax.set_title(name)
    return figure

"""Helpers shared by the ingest tests (imported by name: tests/ingest is on sys.path)."""

from __future__ import annotations

import numpy as np
from rasterio.transform import from_origin

UTM43 = "EPSG:32643"
UTM43_TRANSFORM = from_origin(391395.0, 5596530.0, 15.0, 15.0)


def noisy(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """Compressible but not constant pixels of ``dtype``."""
    rng = np.random.default_rng(seed)
    base = np.add.outer(np.arange(shape[-2]), np.arange(shape[-1])) % 200
    arr = np.broadcast_to(base, shape) + rng.integers(0, 20, size=shape)
    if np.dtype(dtype).kind == "i":
        arr = arr - 50
    return arr.astype(dtype)

"""Tile arithmetic and PNG decoding for the tile tests (imported by name: tests/tiles is on sys.path)."""

from __future__ import annotations

import io
import math

import morecantile
import numpy as np
from PIL import Image

TMS = morecantile.tms.get("WebMercatorQuad")


def rgba(png: bytes) -> np.ndarray:
    img = Image.open(io.BytesIO(png))
    assert img.format in ("PNG", "WEBP"), img.format
    return np.asarray(img.convert("RGBA"))


def tile_at(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    t = TMS.tile(lon, lat, z)
    return t.z, t.x, t.y


def pixel_lonlat(z: int, x: int, y: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of the centres of a tile's pixels, each ``(size, size)``."""
    n = 2.0**z
    cols = (np.arange(size) + 0.5) / size + x
    rows = (np.arange(size) + 0.5) / size + y
    lon = cols / n * 360.0 - 180.0
    lat = np.degrees(np.arctan(np.sinh(math.pi * (1 - 2 * rows / n))))
    return np.meshgrid(lon, lat)


def inside(lon: np.ndarray, lat: np.ndarray, west: float, south: float, east: float,
           north: float) -> np.ndarray:  # fmt: skip
    return (lon > west) & (lon < east) & (lat > south) & (lat < north)

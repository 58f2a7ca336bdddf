"""A synthetic landscape for the demo product: fields, a river, woods and a swath edge.

Everything is computed from a fixed seed with numpy (no download), so every run writes the same
pixels: the demo's images are the same on every machine. Reflectances are UInt16 in [0, 10000]
like a surface-reflectance product; the crops green up and are harvested across the dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

SEED = 17
TILE = 384
"""Side of one image, in pixels."""
STEP = 320
"""Column offset between the two images of a date: they overlap by TILE - STEP pixels."""
PIXEL = 30.0
"""Metres per pixel (UTM zone 43N)."""
ORIGIN = (391395.0, 5596530.0)
"""Upper-left corner of the landscape (about 73.5 E, 50.5 N)."""
CRS = "EPSG:32643"
BANDS = ("blue", "green", "red", "nir", "alpha")

# Surface reflectance (x 10000) of each cover in blue, green, red, nir.
WATER = np.array([620, 540, 320, 140])
WOOD = np.array([280, 480, 290, 3100])
SOIL = np.array([880, 1120, 1350, 1950])
CROP = np.array([360, 760, 380, 4300])
ROAD = np.array([1500, 1550, 1600, 1750])


@dataclass(frozen=True)
class DemoImage:
    key: str
    """Image key (also the file name's stem)."""
    acquired: str
    season: float
    """0 = bare spring soil, 1 = peak green, beyond 1 = after harvest."""
    tile: int
    """0 = west, 1 = east."""


DATES = (("2024-04-20", 0.1), ("2024-06-25", 1.0), ("2024-09-10", 1.6))
IMAGES = tuple(
    DemoImage(f"{date}-{side}", f"{date}T06:{30 + 2 * tile}:00+00:00", season, tile)
    for date, season in DATES
    for tile, side in enumerate(("west", "east"))
)


def _smooth(rng: np.random.Generator, rows: int, cols: int, waves: int = 6) -> np.ndarray:
    """A smooth field in about [-1, 1]: a sum of a few long, randomly oriented waves."""
    y, x = np.mgrid[0:rows, 0:cols].astype("float64")
    out = np.zeros((rows, cols))
    for _ in range(waves):
        angle = rng.uniform(0, np.pi)
        wavelength = rng.uniform(120, 420)
        phase = rng.uniform(0, 2 * np.pi)
        out += np.sin((x * np.cos(angle) + y * np.sin(angle)) * 2 * np.pi / wavelength + phase)
    return out / np.sqrt(waves)


@dataclass(frozen=True)
class Landscape:
    """Per-pixel land cover of the whole demo area, independent of the date."""

    water: np.ndarray
    wood: np.ndarray
    road: np.ndarray
    crop_kind: np.ndarray
    """0..3 per field: when it greens up and is harvested."""
    texture: np.ndarray


def landscape() -> Landscape:
    rng = np.random.default_rng(SEED)
    rows, cols = TILE, STEP + TILE
    y, x = np.mgrid[0:rows, 0:cols].astype("float64")
    # A meandering river from north to south, a tributary joining from the east.
    centre = cols * 0.42 + 38 * np.sin(y / 47.0) + 17 * np.sin(y / 13.0 + 1.0)
    water = np.abs(x - centre) < 4.5 + 1.5 * np.sin(y / 29.0)
    branch = rows * 0.62 + 22 * np.sin(x / 37.0)
    water |= (np.abs(y - branch) < 2.5) & (x > centre)
    # Woods on the higher, rougher ground and along the river banks.
    relief = _smooth(rng, rows, cols)
    wood = ((relief > 0.75) | (np.abs(x - centre) < 11)) & ~water
    # Fields: a slightly rotated grid of parcels, each with its own crop calendar.
    u = x * np.cos(0.12) + y * np.sin(0.12)
    v = -x * np.sin(0.12) + y * np.cos(0.12)
    cell_u, cell_v = np.floor(u / 52.0), np.floor(v / 37.0)
    road = ((u % 52.0) < 1.2) | ((v % 37.0) < 1.2)
    kinds = rng.integers(0, 4, size=4096)
    crop_kind = kinds[((cell_u * 61 + cell_v * 17) % 4096).astype(int)]
    texture = 1 + 0.06 * _smooth(rng, rows, cols, waves=12)
    return Landscape(water, wood, road & ~water & ~wood, crop_kind, texture)


def greenness(kind: np.ndarray, season: float) -> np.ndarray:
    """Fraction of green cover of each crop kind at a point of the season."""
    peak = np.array([0.8, 1.0, 1.2, 0.9])[kind]
    width = np.array([0.35, 0.45, 0.4, 0.3])[kind]
    return np.exp(-(((season - peak) / width) ** 2))


def image_pixels(land: Landscape, image: DemoImage) -> np.ndarray:
    """(5, TILE, TILE) UInt16: blue, green, red, nir reflectance and alpha."""
    cols = slice(image.tile * STEP, image.tile * STEP + TILE)
    water, wood, road = land.water[:, cols], land.wood[:, cols], land.road[:, cols]
    g = greenness(land.crop_kind[:, cols], image.season)[..., np.newaxis]
    refl = g * CROP + (1 - g) * SOIL
    refl = np.where(wood[..., np.newaxis], WOOD * (0.75 + 0.25 * min(image.season, 1.0)), refl)
    refl = np.where(road[..., np.newaxis], ROAD, refl)
    refl = np.where(water[..., np.newaxis], WATER, refl)
    refl = refl * land.texture[:, cols, np.newaxis]
    alpha = np.ones((TILE, TILE), dtype=bool)
    if image.tile == 1:  # the east image is the edge of a satellite swath: a slanted border
        yy, xx = np.mgrid[0:TILE, 0:TILE]
        alpha = xx < TILE - 40 - yy * 0.25
    pixels = np.clip(np.moveaxis(refl, -1, 0), 1, 10000).astype("uint16")
    pixels[:, ~alpha] = 0
    return np.concatenate([pixels, alpha[np.newaxis].astype("uint16")])


def write_image(land: Landscape, image: DemoImage, directory: Path) -> Path:
    """Write one demo image as a GeoTIFF (5 UInt16 bands, the last one alpha)."""
    import rasterio
    from rasterio.transform import from_origin

    path = Path(directory) / f"{image.key}.tif"
    west = ORIGIN[0] + image.tile * STEP * PIXEL
    with rasterio.open(
        path, "w", driver="GTiff", width=TILE, height=TILE, count=len(BANDS), dtype="uint16",
        crs=CRS, transform=from_origin(west, ORIGIN[1], PIXEL, PIXEL), compress="deflate",
        predictor=2, tiled=True,
    ) as dst:  # fmt: skip
        dst.write(image_pixels(land, image))
        dst.descriptions = BANDS
    return path

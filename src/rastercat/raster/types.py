"""Value objects of the raster read engine: what the catalog hands in, and the output grid."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import affine
from rasterio.crs import CRS

#: GDAL type names the catalog uses for bands, and their numpy equivalents.
GDAL_TO_NUMPY: dict[str, str] = {
    "Byte": "uint8",
    "Int8": "int8",
    "UInt16": "uint16",
    "Int16": "int16",
    "UInt32": "uint32",
    "Int32": "int32",
    "Float32": "float32",
    "Float64": "float64",
}
NUMPY_TO_GDAL: dict[str, str] = {v: k for k, v in GDAL_TO_NUMPY.items()}


@dataclass(frozen=True)
class BandInfo:
    """One product band, as the catalog describes it."""

    name: str
    dtype: str
    nodata: float | None = None
    data_range: tuple[float, float] | None = None
    physical_range: tuple[float, float] | None = None
    default_range: tuple[float, float] | None = None
    is_alpha: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)
    """What the npz metadata shows as ``bands[].description`` (empty: the name and dtype). The
    engine only echoes it: the wire layer fills it (the raster route, from :attr:`facts`)."""
    facts: Mapping[str, Any] = field(default_factory=dict)
    """The catalog's record of the band as plain values (``id``, ``product_id``, ``attrs``, the
    ACL, ``modified``...). The engine never reads it."""


@dataclass(frozen=True)
class SourceImage:
    """One processed image (a COG) that a read may draw pixels from."""

    id: str
    path: str
    band_names: tuple[str, ...]
    """Product band names in COG band order: COG band ``i + 1`` holds ``band_names[i]``."""
    crs_wkt: str
    geotrans: tuple[float, float, float, float, float, float]
    raster_size: tuple[int, int]
    """``(width, height)``."""
    gdal_env: Callable[[], AbstractContextManager[Any]] | None = field(
        default=None, compare=False, repr=False
    )
    """Makes the GDAL configuration that ``path`` opens in (e.g. the object store's credentials
    and endpoint for ``/vsis3/``), given by whoever made the source; the reader enters it."""

    @property
    def transform(self) -> affine.Affine:
        return affine.Affine.from_gdal(*self.geotrans)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` of the four pixel corners, in the image's CRS."""
        t = self.transform
        w, h = self.raster_size
        xs, ys = zip(*(t @ c for c in ((0, 0), (w, 0), (0, h), (w, h))), strict=True)
        return min(xs), min(ys), max(xs), max(ys)

    def band_index(self, name: str) -> int | None:
        """1-based COG band index of a product band, or None when this image lacks it."""
        try:
            return self.band_names.index(name) + 1
        except ValueError:
            return None


@dataclass(frozen=True)
class Grid:
    """An output pixel grid: CRS, north-up affine transform and size."""

    crs: CRS
    transform: affine.Affine
    width: int
    height: int

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        t = self.transform
        xs, ys = zip(
            *(
                t @ c
                for c in ((0, 0), (self.width, 0), (0, self.height), (self.width, self.height))
            ),
            strict=True,
        )
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return self.height, self.width

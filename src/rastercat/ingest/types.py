"""Value types exchanged between the ingest worker and the processing pipeline.

They are GDAL-free and immutable so that a job can be described, queued and logged without
touching any raster library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DTYPES: dict[str, str] = {
    "Byte": "uint8",
    "UInt16": "uint16",
    "Int16": "int16",
    "UInt32": "uint32",
    "Int32": "int32",
    "Float32": "float32",
    "Float64": "float64",
}
"""Catalog band dtype name -> numpy dtype name."""

RESAMPLERS: tuple[str, ...] = (
    "nearest",
    "average",
    "gauss",
    "cubic",
    "cubicspline",
    "lanczos",
    "average_mp",
    "average_magphase",
    "mode",
)
"""The overview resamplers the wire protocol allows for ndarray uploads."""


@dataclass(frozen=True)
class BandSpec:
    """One band of the product, as stored in the catalog."""

    name: str
    srcband: int
    """1-based band index within its file (ndarray: index k -> ``arr[..., k-1]``)."""
    srcfile: int = 0
    """0-based index into the list of files of a multi-file upload."""
    jpx_layer: int = 0
    dtype: str = "UInt16"
    nbits: int | None = None
    type: str = "spectral"
    nodata: float | None = None
    color: str | None = None
    """``'Alpha'`` marks an alpha band; a band named ``'alpha'`` is alpha too."""

    @property
    def is_alpha(self) -> bool:
        return (self.color or "").lower() == "alpha" or self.name.lower() == "alpha"

    @property
    def is_categorical(self) -> bool:
        """Mask and class bands must never be averaged when building overviews."""
        return self.type in ("mask", "class")


@dataclass(frozen=True)
class IngestRequest:
    """What to ingest: the uploaded files on local disk and the product's bands."""

    upload_type: Literal["file", "ndarray"]
    files: tuple[Path, ...]
    """Local paths in ``srcfile`` order (ndarray: exactly one ``.npy``)."""
    bands: tuple[BandSpec, ...]
    """The product's bands, in the order they must appear in the COG."""
    geotrans: tuple[float, ...] | None = None
    """GDAL 6-tuple; required for ndarray."""
    crs: str | None = None
    """WKT, PROJ.4 or ``"EPSG:n"``; required for ndarray."""
    overviews: tuple[int, ...] | None = None
    """ndarray: overview factors such as ``(2, 4)``; ``None`` means automatic."""
    overview_resampler: str | None = None
    """One of :data:`RESAMPLERS`."""
    compression: str = "ZSTD"
    compression_level: int = 1
    hash_inputs: bool = True
    """Record the md5 of each input file (``file_md5s``); the server records the COG's instead."""


@dataclass(frozen=True)
class IngestResult:
    """A validated COG and what was learned about it."""

    cog_path: Path
    """Validated COG inside the work directory; the caller moves it into storage."""
    band_names: tuple[str, ...]
    """Product band names in COG band order (COG band i+1 is ``band_names[i]``)."""
    attributes: dict[str, Any] = field(default_factory=dict)
    """Inferred image attributes, JSON-ready (proj4, wkt, cs_code, geotrans, raster_size, geometry,
    bits_per_pixel, acquired, file_sizes, file_md5s, cog_size, cog_md5)."""
    log: tuple[str, ...] = ()
    """Human-readable lines saying what was done."""

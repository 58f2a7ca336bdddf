"""Decide how the product's bands are assembled from the uploaded files into one COG.

Pure decisions over :class:`SourceInfo` headers: no pixel is read here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rastercat.errors import IngestError
from rastercat.ingest.probe import SourceInfo
from rastercat.ingest.types import DTYPES, RESAMPLERS, BandSpec, IngestRequest

MAX_OVERVIEWS = 16
AUTO_OVERVIEW_MIN_SIDE = 256
"""Automatic overviews halve the raster until its longer side is at most this many pixels."""

# Protocol resampler name -> rasterio Resampling member name. The magnitude/phase averages only
# differ from a plain average on complex data, which uploads cannot contain.
_RESAMPLING = {
    "nearest": "nearest",
    "average": "average",
    "gauss": "gauss",
    "cubic": "cubic",
    "cubicspline": "cubic_spline",
    "lanczos": "lanczos",
    "average_mp": "average",
    "average_magphase": "average",
    "mode": "mode",
}


@dataclass(frozen=True)
class BandPlan:
    """Where one COG band comes from."""

    spec: BandSpec
    source: SourceInfo
    srcband: int
    alpha: bool
    nodata: float | None


@dataclass(frozen=True)
class CogPlan:
    """Everything the writer needs, decided up front."""

    bands: tuple[BandPlan, ...]
    dtype: str
    """numpy dtype of the COG (a GeoTIFF has one dtype for all its bands)."""
    nodata: float | None
    resampling: str
    """rasterio ``Resampling`` member name for overviews."""
    overview_factors: tuple[int, ...]
    """Explicit overview factors (empty: none)."""
    passthrough: SourceInfo | None
    """Set when the COG is exactly one file's bands in order: copy straight from it."""

    @property
    def width(self) -> int:
        return self.bands[0].source.width

    @property
    def height(self) -> int:
        return self.bands[0].source.height


def output_dtype(bands: Sequence[BandSpec]) -> str:
    """The one dtype that holds every band's dtype without loss."""
    for band in bands:
        if band.dtype not in DTYPES:
            raise IngestError(
                f"band {band.name!r} has unsupported dtype {band.dtype!r}; supported: "
                + ", ".join(DTYPES)
            )
    dtype = np.result_type(*[np.dtype(DTYPES[b.dtype]) for b in bands])
    # Mixing UInt32 with a signed type promotes to int64, which GeoTIFF readers handle poorly;
    # float64 holds every 32-bit integer exactly.
    if dtype.kind in "iu" and dtype.itemsize > 4:
        dtype = np.dtype("float64")
    return dtype.name


def map_band(spec: BandSpec, sources: Sequence[SourceInfo]) -> BandPlan:
    """Find and check the file band that feeds one product band."""
    if not 0 <= spec.srcfile < len(sources):
        names = ", ".join(s.path.name for s in sources)
        plural = "file" if len(sources) == 1 else "files"
        raise IngestError(
            f"band {spec.name!r} wants srcfile {spec.srcfile} but the upload has "
            f"{len(sources)} {plural} ({names})"
        )
    src = sources[spec.srcfile]
    if not 1 <= spec.srcband <= src.count:
        plural = "band" if src.count == 1 else "bands"
        raise IngestError(
            f"band {spec.name!r} wants srcband {spec.srcband} but {src.label} has "
            f"{src.count} {plural}"
        )
    if spec.jpx_layer != 0:
        raise IngestError(
            f"band {spec.name!r} wants jpx_layer {spec.jpx_layer} of {src.label}; only layer 0 "
            "is supported"
        )
    if spec.dtype not in DTYPES:
        raise IngestError(f"band {spec.name!r} has unsupported dtype {spec.dtype!r}")
    have = src.dtypes[spec.srcband - 1]
    if not np.can_cast(np.dtype(have), np.dtype(DTYPES[spec.dtype]), casting="safe"):
        raise IngestError(
            f"band {spec.name!r} is {spec.dtype} but {src.label} band {spec.srcband} is {have}: "
            "converting it would lose data (change the band's dtype or convert the file)"
        )
    file_nodata = src.nodata[spec.srcband - 1]
    nodata = file_nodata if file_nodata is not None else spec.nodata
    alpha = spec.is_alpha or src.alpha[spec.srcband - 1]
    return BandPlan(spec=spec, source=src, srcband=spec.srcband, alpha=alpha, nodata=nodata)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def _common_nodata(bands: Sequence[BandPlan], dtype: str) -> float | None:
    values = [b.nodata for b in bands if not b.alpha]
    if not values or not all(_same(v, values[0]) for v in values):
        return None
    value = values[0]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return value if np.dtype(dtype).kind == "f" else None
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(np.dtype(dtype))
        if value != int(value) or not info.min <= value <= info.max:
            return None
    return value


def overview_factors(request: IngestRequest, width: int, height: int) -> tuple[int, ...]:
    """Explicit factors for an ndarray upload, else powers of two down to ~256 pixels."""
    if request.upload_type == "ndarray" and request.overviews is not None:
        factors = request.overviews
        if len(factors) > MAX_OVERVIEWS:
            raise IngestError(f"at most {MAX_OVERVIEWS} overview factors are accepted")
        for f in factors:
            if isinstance(f, bool) or not isinstance(f, int) or f < 2:
                raise IngestError(f"overview factors must be integers >= 2, got {f!r}")
            if f > max(width, height):
                raise IngestError(
                    f"overview factor {f} is larger than the array ({width} x {height} pixels)"
                )
        return tuple(sorted(set(factors)))
    out: list[int] = []
    factor = 2
    while max(width, height) / (factor // 2) > AUTO_OVERVIEW_MIN_SIDE:
        out.append(factor)
        factor *= 2
    return tuple(out)


def resampling_for(request: IngestRequest) -> str:
    """The overview resampler: the requested one, else nearest for masks/classes, else average."""
    if request.overview_resampler is not None:
        name = request.overview_resampler.lower()
        if name not in RESAMPLERS:
            raise IngestError(
                f"unknown overview_resampler {request.overview_resampler!r}; use one of "
                + ", ".join(RESAMPLERS)
            )
        return _RESAMPLING[name]
    if any(b.is_categorical for b in request.bands):
        return "nearest"
    return "average"


def make_plan(request: IngestRequest, sources: Sequence[SourceInfo]) -> CogPlan:
    if not request.bands:
        raise IngestError("the product has no bands to ingest")
    names = [b.name for b in request.bands]
    if len(set(names)) != len(names):
        raise IngestError(f"the product's band names are not unique: {names}")
    bands = tuple(map_band(spec, sources) for spec in request.bands)
    dtype = output_dtype(request.bands)
    nodata = _common_nodata(bands, dtype)
    first = sources[0]
    passthrough = None
    if (
        request.upload_type == "file"
        and all(b.source is first for b in bands)
        and [b.srcband for b in bands] == list(range(1, first.count + 1))
        and all(dt == dtype for dt in first.dtypes)
        # GDAL reads a UInt16 alpha of 1 as almost transparent: COGs never carry GDAL alpha;
        # the catalog's band metadata says which band is alpha.
        and not any(first.alpha)
        and all(
            _same(n, nodata) or (n is None and b.alpha)
            for n, b in zip(first.nodata, bands, strict=True)
        )
    ):
        passthrough = first
    return CogPlan(
        bands=bands,
        dtype=dtype,
        nodata=nodata,
        resampling=resampling_for(request),
        overview_factors=overview_factors(request, first.width, first.height),
        passthrough=passthrough,
    )

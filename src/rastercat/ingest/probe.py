"""Open uploads safely and learn what they declare, before any pixel is read.

Every check here works from headers only: declared sizes are compared with the configured limits
first, because a few hundred bytes of TIFF can declare terabytes of pixels.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyproj
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import ColorInterp
from rasterio.errors import CRSError, RasterioError

from rastercat.config import Limits
from rastercat.errors import IngestError
from rastercat.ingest.gdal_env import UPLOAD_DRIVERS

ALLOWED_DTYPES: frozenset[str] = frozenset(
    ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]
)

MAX_BLOCK_BYTES = 1 << 30
"""Largest declared block (tile or strip) of an upload: GDAL decodes a whole block at once."""

JP2_SAMPLE_BYTES = 4
"""OpenJPEG decodes every sample of a tile into a 32-bit integer, whatever the file's bit depth."""

_JP2_MAX_BOXES = 64
"""Top-level boxes of a JP2 file walked to find its codestream (real files have a handful)."""


@dataclass(frozen=True)
class SourceInfo:
    """What one uploaded file (or the ndarray) declares."""

    index: int
    path: Path
    driver: str
    """``GTiff``, ``JP2OpenJPEG`` or ``NPY``."""
    width: int
    height: int
    count: int
    dtypes: tuple[str, ...]
    crs: CRS
    transform: Affine
    nodata: tuple[float | None, ...]
    alpha: tuple[bool, ...]
    datetime: str | None = None
    """Raw ``TIFFTAG_DATETIME`` value, if any."""

    @property
    def label(self) -> str:
        return f"file {self.index} ({self.path.name})"


def open_upload(path: Path) -> rasterio.DatasetReader:
    """Open an uploaded raster with one allowed driver per attempt; never VRT."""
    if not path.is_file():
        raise IngestError(f"{path.name}: the uploaded file is missing")
    for driver in UPLOAD_DRIVERS:
        try:
            return rasterio.open(path, driver=driver, sharing=False)
        except RasterioError:
            continue
    raise IngestError(
        f"{path.name}: not a readable GeoTIFF or JPEG2000 file "
        "(the file may be truncated, corrupt, or in another format)"
    )


def check_declared_size(
    name: str, width: int, height: int, count: int, itemsize: int, limits: Limits
) -> None:
    """Reject a raster whose declared size is above the limits, naming the limit."""
    if width <= 0 or height <= 0 or count <= 0:
        raise IngestError(f"{name}: empty raster ({width} x {height} pixels, {count} bands)")
    side = max(width, height)
    if side > limits.max_image_side:
        raise IngestError(
            f"{name}: declares {width} x {height} pixels; the largest accepted side is "
            f"{limits.max_image_side} pixels"
        )
    if width * height > limits.max_image_pixels:
        raise IngestError(
            f"{name}: declares {width} x {height} = {width * height} pixels; at most "
            f"{limits.max_image_pixels} pixels are accepted"
        )
    decoded = width * height * count * itemsize
    if decoded > limits.max_decoded_bytes:
        raise IngestError(
            f"{name}: declares {decoded} bytes of pixels ({width} x {height} x {count} bands x "
            f"{itemsize} bytes); at most {limits.max_decoded_bytes} bytes are accepted"
        )


def check_earth_crs(name: str, crs: CRS) -> None:
    """Reject a CRS with no datum (a local/engineering one): no footprint can be computed from it."""
    try:
        parsed = pyproj.CRS.from_wkt(crs.to_wkt())
        earth = parsed.geodetic_crs is not None and not parsed.is_engineering
    except (pyproj.exceptions.CRSError, CRSError) as exc:
        raise IngestError(
            f"{name}: cannot understand its coordinate reference system: {exc}"
        ) from exc
    if not earth:
        raise IngestError(
            f"{name}: its coordinate reference system {parsed.name!r} is not tied to the Earth "
            "(a local or engineering CRS); upload a raster georeferenced to a geographic or "
            "projected CRS"
        )


def check_georeferencing(name: str, crs: CRS | None, transform: Affine) -> None:
    """Require a CRS and a usable (finite, invertible, non-default) geotransform."""
    if crs is None or not crs.to_wkt():
        raise IngestError(
            f"{name}: has no coordinate reference system; upload a georeferenced raster"
        )
    check_earth_crs(name, crs)
    coeffs = transform.to_gdal()
    if not all(math.isfinite(c) for c in coeffs):
        raise IngestError(f"{name}: invalid geotransform {list(coeffs)} (not finite)")
    if transform == Affine.identity():
        raise IngestError(f"{name}: has no geotransform; upload a georeferenced raster")
    if transform.determinant == 0:
        raise IngestError(f"{name}: invalid geotransform {list(coeffs)} (zero pixel size)")


def probe_file(index: int, path: Path, limits: Limits) -> SourceInfo:
    """Headers of one uploaded file, checked against the limits and for georeferencing."""
    with open_upload(path) as src:
        name = f"file {index} ({path.name})"
        dtypes = tuple(src.dtypes)
        for bidx, dt in enumerate(dtypes, start=1):
            if dt not in ALLOWED_DTYPES:
                raise IngestError(
                    f"{name}: band {bidx} has unsupported data type {dt}; supported: "
                    + ", ".join(sorted(ALLOWED_DTYPES))
                )
        itemsize = max(np.dtype(dt).itemsize for dt in dtypes)
        check_declared_size(name, src.width, src.height, src.count, itemsize, limits)
        if src.driver == "GTiff":
            bh, bw = src.block_shapes[0]
            per_block = src.count if src.interleaving is not None and src.count > 1 else 1
            if bw * bh * itemsize * per_block > MAX_BLOCK_BYTES:
                raise IngestError(
                    f"{name}: declares {bw} x {bh} pixel blocks; blocks above "
                    f"{MAX_BLOCK_BYTES} bytes are not accepted (re-save it tiled)"
                )
        elif src.driver == "JP2OpenJPEG":
            check_jp2_tiles(name, path, src.block_shapes, src.count, itemsize)
        if src.crs is None and src.gcps[0]:
            raise IngestError(
                f"{name}: is georeferenced by ground control points only; warp it to a "
                "geotransform first"
            )
        check_georeferencing(name, src.crs, src.transform)
        return SourceInfo(
            index=index,
            path=path,
            driver=src.driver,
            width=src.width,
            height=src.height,
            count=src.count,
            dtypes=dtypes,
            crs=src.crs,
            transform=src.transform,
            nodata=tuple(src.nodatavals),
            alpha=tuple(ci == ColorInterp.alpha for ci in src.colorinterp),
            datetime=src.tags().get("TIFFTAG_DATETIME"),
        )


def _codestream_start(f: BinaryIO) -> int | None:
    """Offset of the codestream: 0 for a raw one (.j2k), else the content of the JP2 file's
    top-level ``jp2c`` box (found by walking the boxes: a marker-like byte pattern inside an
    earlier box, e.g. XML, must not be taken for the header)."""
    if f.read(4) == b"\xff\x4f\xff\x51":
        return 0
    offset = 0
    for _ in range(_JP2_MAX_BOXES):
        f.seek(offset)
        head = f.read(8)
        if len(head) < 8:
            return None
        length, kind = struct.unpack(">I4s", head)
        start = offset + 8
        if length == 1:  # a 64-bit length follows
            (length,) = struct.unpack(">Q", f.read(8))
            start += 8
        if kind == b"jp2c":
            return start
        if length == 0 or length < start - offset:  # the last box, or a broken length
            return None
        offset += length
    return None


def jp2_tile_size(path: Path) -> tuple[int, int, int] | None:
    """(width, height, components) of the largest tile the codestream's SIZ marker declares, as
    OpenJPEG will decode it (a tile clipped to the image); None if no SIZ is found."""
    with path.open("rb") as f:
        start = _codestream_start(f)
        if start is None:
            return None
        f.seek(start)
        siz = f.read(42)
    if len(siz) < 42 or siz[:4] != b"\xff\x4f\xff\x51":  # SOC then SIZ open every codestream
        return None
    xsiz, ysiz, xosiz, yosiz, xtsiz, ytsiz, _xtosiz, _ytosiz, csiz = struct.unpack(
        ">IIIIIIIIH", siz[8:42]
    )
    # A tile is decoded clipped to the image area: at most the tile size, at most the image.
    width = min(xtsiz, max(0, xsiz - xosiz))
    height = min(ytsiz, max(0, ysiz - yosiz))
    return width, height, csiz


def check_jp2_tiles(
    name: str, path: Path, block_shapes: Sequence[tuple[int, int]], count: int, itemsize: int
) -> None:
    """Reject a JPEG2000 file whose tiles decode to more than :data:`MAX_BLOCK_BYTES`: OpenJPEG
    decodes a whole tile (all its components) for any pixel of it, and GDAL caches whole blocks."""
    bh, bw = block_shapes[0]
    tw, th, comps = jp2_tile_size(path) or (bw, bh, count)
    sizes = [(tw * th * comps * JP2_SAMPLE_BYTES, tw, th), (bw * bh * count * itemsize, bw, bh)]
    decoded, width, height = max(sizes)
    if decoded > MAX_BLOCK_BYTES:
        raise IngestError(
            f"{name}: declares JPEG2000 tiles of {width} x {height} pixels ({decoded} bytes "
            f"decoded per tile); tiles above {MAX_BLOCK_BYTES} bytes are not accepted (re-save it "
            "with smaller tiles)"
        )


def parse_crs(text: str | None) -> CRS:
    """A user-supplied CRS (WKT, PROJ.4 or ``EPSG:n``) as a rasterio CRS, or IngestError."""
    if not text or not text.strip():
        raise IngestError(
            "an ndarray upload needs a coordinate reference system (wkt_srs or proj4)"
        )
    try:
        parsed = pyproj.CRS.from_user_input(text)
        return CRS.from_wkt(parsed.to_wkt())
    except (pyproj.exceptions.CRSError, CRSError, TypeError, ValueError) as exc:
        raise IngestError(
            f"cannot understand the coordinate reference system {text[:80]!r}: {exc}"
        ) from exc


def load_ndarray(path: Path) -> np.ndarray[Any, Any]:
    """Memory-map an uploaded ``.npy`` file without ever unpickling."""
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError, BadZipFile...
        raise IngestError(f"{path.name}: not a valid .npy array file ({exc})") from exc
    if not isinstance(arr, np.ndarray):
        arr.close()  # an .npz archive: np.load returned an open NpzFile
        raise IngestError(f"{path.name}: not a single .npy array")
    if arr.dtype.name not in ALLOWED_DTYPES:
        raise IngestError(
            f"{path.name}: unsupported array data type {arr.dtype}; supported: "
            + ", ".join(sorted(ALLOWED_DTYPES))
        )
    if arr.ndim not in (2, 3):
        raise IngestError(
            f"{path.name}: array shape {arr.shape} is not (rows, cols) or (rows, cols, bands)"
        )
    return arr


def probe_ndarray(
    path: Path, geotrans: Sequence[float] | None, crs: str | None, limits: Limits
) -> SourceInfo:
    """Headers of an uploaded ndarray plus the georeferencing given with it."""
    arr = load_ndarray(path)
    height, width = arr.shape[:2]
    count = 1 if arr.ndim == 2 else arr.shape[2]
    name = f"array {path.name}"
    check_declared_size(name, width, height, count, arr.dtype.itemsize, limits)
    if geotrans is None:
        raise IngestError("an ndarray upload needs a geotrans (GDAL geotransform of 6 numbers)")
    try:
        coeffs = [float(c) for c in geotrans]
    except (TypeError, ValueError) as exc:
        raise IngestError(f"geotrans must be 6 numbers, got {geotrans!r}") from exc
    if len(coeffs) != 6:
        raise IngestError(f"geotrans must be 6 numbers, got {len(coeffs)}")
    transform = Affine.from_gdal(*coeffs)
    parsed = parse_crs(crs)
    check_georeferencing(name, parsed, transform)
    return SourceInfo(
        index=0,
        path=path,
        driver="NPY",
        width=width,
        height=height,
        count=count,
        dtypes=(arr.dtype.name,) * count,
        crs=parsed,
        transform=transform,
        nodata=(None,) * count,
        alpha=(False,) * count,
    )


def check_same_grid(sources: Sequence[SourceInfo]) -> None:
    """All files of a multi-file scene must describe the same pixels on the Earth."""
    first = sources[0]
    tol = 1e-9 * max(abs(first.transform.a), abs(first.transform.e), 1e-12)
    for other in sources[1:]:
        if (other.width, other.height) != (first.width, first.height):
            raise IngestError(
                f"{other.label} is {other.width} x {other.height} pixels but {first.label} is "
                f"{first.width} x {first.height}: all files of a scene must share one grid"
            )
        if other.crs != first.crs:
            raise IngestError(
                f"{other.label} and {first.label} have different coordinate reference systems: "
                "all files of a scene must share one grid"
            )
        if not other.transform.almost_equals(first.transform, precision=tol):
            raise IngestError(
                f"{other.label} and {first.label} have different geotransforms "
                f"({list(other.transform.to_gdal())} vs {list(first.transform.to_gdal())}): "
                "all files of a scene must share one grid"
            )

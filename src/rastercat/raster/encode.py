"""Response bodies of the Raster service: the blosc stream (§4.2), npz (§4.3) and files (§4.4)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import blosc
import numpy as np
from rasterio.enums import ColorInterp
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile

from rastercat.errors import InvalidInput
from rastercat.raster.env import read_env
from rastercat.raster.types import BandInfo, Grid

#: c-blosc 1.x refuses buffers above 2**31 - 1 - 16 bytes.
_BLOSC_MAX = 2**31 - 1 - 16
EXTENSIONS = {"GTiff": "tif", "PNG": "png", "JPEG": "jpg"}
FileFormat = Literal["GTiff", "PNG", "JPEG"]


def wire_array(array: np.ndarray) -> np.ndarray:
    """The array as sent: C order, little-endian, a single band as 2-D ``(rows, cols)``."""
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.dtype.byteorder == ">":
        array = array.astype(array.dtype.newbyteorder("<"))
    return np.ascontiguousarray(array)


def _json_line(obj: Any) -> bytes:
    # json.dumps without indent escapes newlines inside strings (WKT), so the line stays one line.
    return json.dumps(obj).encode("utf-8") + b"\n"


def blosc_stream(
    metadata: dict[str, Any], array: np.ndarray, chunk_bytes: int = 16 * 2**20
) -> Iterator[bytes]:
    """``/npz`` with ``of=blosc``: two JSON lines, then one Blosc-1 frame per chunk, lazily."""
    arr = wire_array(array)
    itemsize = arr.dtype.itemsize
    step = max(itemsize, min(chunk_bytes, _BLOSC_MAX) // itemsize * itemsize)
    raw = arr.reshape(-1).view(np.uint8).data
    sizes = [min(step, raw.nbytes - off) for off in range(0, raw.nbytes, step)]
    yield _json_line(metadata) + _json_line(
        {"shape": list(arr.shape), "dtype": arr.dtype.name, "chunks": sizes}
    )
    for off in range(0, raw.nbytes, step):
        yield blosc.compress(
            raw[off : off + step], typesize=itemsize, clevel=5, shuffle=blosc.SHUFFLE, cname="lz4"
        )


def npz_bytes(metadata: dict[str, Any], array: np.ndarray) -> bytes:
    """``/npz`` with ``of=npz``: ``data`` and ``metadata`` (the JSON as uint8) members."""
    buf = io.BytesIO()
    meta = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    np.savez(buf, data=wire_array(array), metadata=meta)
    return buf.getvalue()


def default_basename(image_ids: Sequence[str], band_names: Sequence[str]) -> str:
    """``<id>_<band1>-<band2>...`` as the original service named its files."""
    stem = image_ids[0] if len(image_ids) == 1 else "mosaic"
    return f"{stem}_{'-'.join(band_names)}"


def _encode_file(
    array: np.ndarray, mask: np.ndarray, grid: Grid, bands: Sequence[BandInfo], fmt: FileFormat
) -> bytes:
    count, height, width = array.shape
    dtype = array.dtype.name
    if fmt == "PNG" and dtype not in ("uint8", "uint16"):
        raise InvalidInput(
            f"PNG holds Byte or UInt16 pixels, not {dtype}; pass ot or scales", field="of"
        )
    if fmt == "JPEG" and (dtype != "uint8" or count not in (1, 3)):
        raise InvalidInput(
            f"JPEG holds 1 or 3 Byte bands, not {count} x {dtype}; pass ot or scales, or fewer bands",
            field="of",
        )
    profile: dict[str, Any] = {
        "driver": fmt,
        "width": width,
        "height": height,
        "count": count,
        "dtype": dtype,
        "crs": grid.crs,
        "transform": grid.transform,
    }
    nodatas = {b.nodata for b in bands if not b.is_alpha}
    if len(nodatas) == 1 and None not in nodatas:
        profile["nodata"] = nodatas.pop()
    if fmt == "GTiff":
        profile.update(tiled=True, blockxsize=256, blockysize=256, compress="deflate")
        if width < 256 or height < 256:
            profile.update(tiled=False)
    with read_env(), MemoryFile() as mem:
        try:
            with mem.open(**profile) as dst:
                dst.write(array)
                for i, b in enumerate(bands, start=1):
                    dst.set_band_description(i, b.name)
                if fmt == "GTiff":
                    if bands[-1].is_alpha and count > 1:
                        dst.colorinterp = [*dst.colorinterp[:-1], ColorInterp.alpha]
                    elif "nodata" not in profile and not mask.all():
                        dst.write_mask(mask)
        except RasterioError as exc:
            raise InvalidInput(f"Cannot encode the output as {fmt}: {exc}", field="of") from exc
        return bytes(mem.read())


def raster_files(
    metadata: dict[str, Any],
    array: np.ndarray,
    mask: np.ndarray,
    grid: Grid,
    bands: Sequence[BandInfo],
    fmt: FileFormat,
    basename: str,
) -> bytes:
    """``/raster``: a JSON header line, then one ``{"name","length"}`` line and the file's bytes."""
    if fmt not in EXTENSIONS:
        raise InvalidInput(f"Unknown output format {fmt!r}; use GTiff, PNG or JPEG", field="of")
    arr = array if array.ndim == 3 else array[np.newaxis]
    body = _encode_file(arr, mask, grid, bands, fmt)
    name = f"{basename}.{EXTENSIONS[fmt]}"
    return (
        _json_line({"files": 1, "metadata": metadata})
        + _json_line({"name": name, "length": len(body)})
        + body
    )


def parse_raster_files(payload: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The client's reading of a ``/raster`` body (used by tests and the SDK)."""
    stream = io.BytesIO(payload)
    head = json.loads(stream.readline())
    files: dict[str, bytes] = {}
    for _ in range(head["files"]):
        info = json.loads(stream.readline())
        files[info["name"]] = stream.read(info["length"])
    return head, files


__all__ = [
    "blosc_stream",
    "default_basename",
    "npz_bytes",
    "parse_raster_files",
    "raster_files",
]

"""The Raster service client (protocol §4): pixels onto any grid, files, and DLTiles.

``ndarray`` asks for the streamed Blosc framing (§4.2) and reads it frame by frame from the response,
so an array is never held twice as compressed and decompressed bytes.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rastercat.client._http import RASTER_PATH, Service, raise_for_status
from rastercat.errors import InvalidInput, ServiceError

__all__ = ["Raster", "raster_body", "read_blosc_array", "read_raster_files"]

_BLOSC_HEADER = struct.Struct("<BBBBIII")
# BLOSC_MAX_BUFFERSIZE: no valid Blosc-1 frame is larger, so a bigger cbytes means a corrupt stream.
_BLOSC_MAX = 2**31 - 1


class _Readable(Protocol):
    def readline(self) -> bytes: ...

    def read(self, n: int) -> bytes: ...


class _ChunkReader:
    """``readline``/``read(n)`` over an iterator of byte chunks (an httpx streamed body)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def _fill(self) -> bool:
        for chunk in self._chunks:
            if chunk:
                self._buffer += chunk
                return True
        return False

    def readline(self) -> bytes:
        while (end := self._buffer.find(b"\n")) < 0:
            if not self._fill():
                end = len(self._buffer) - 1
                break
        line = bytes(self._buffer[: end + 1])
        del self._buffer[: end + 1]
        return line

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n and self._fill():
            pass
        data = bytes(self._buffer[:n])
        del self._buffer[:n]
        return data


def _json_line(stream: _Readable, what: str) -> Any:
    line = stream.readline()
    if not line.endswith(b"\n"):
        raise ServiceError(f"the /npz response ended before its {what} line")
    try:
        return json.loads(line)
    except ValueError as exc:
        raise ServiceError(f"the /npz {what} line is not JSON: {exc}") from exc


def read_blosc_array(stream: _Readable) -> tuple[np.ndarray, dict[str, Any]]:
    """Read the §4.2 framing: metadata line, array-meta line, then one Blosc-1 frame per chunk.

    Unlike the 0.17 client (``decompress_ptr`` with no bounds check), every frame's size is checked
    against the space left in the array before it is written.
    """
    import blosc

    metadata = _json_line(stream, "metadata")
    array_meta = _json_line(stream, "array-meta")
    try:
        output = np.empty(array_meta["shape"], dtype=np.dtype(array_meta["dtype"]))
        n_frames = len(array_meta["chunks"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ServiceError(f"bad /npz array-meta line {array_meta!r}: {exc}") from exc
    flat = output.reshape(-1).view(np.uint8)
    filled = 0
    for index in range(n_frames):
        header = stream.read(_BLOSC_HEADER.size)
        if len(header) < _BLOSC_HEADER.size:
            raise ServiceError(f"the /npz response ended in the header of frame {index}")
        version, _, _, _, nbytes, _, cbytes = _BLOSC_HEADER.unpack(header)
        if version != 2 or not (_BLOSC_HEADER.size <= cbytes <= _BLOSC_MAX):
            raise ServiceError(f"frame {index} is not a Blosc-1 frame (version {version})")
        if filled + nbytes > flat.size:
            raise ServiceError(
                f"frame {index} holds {nbytes} bytes, more than the {flat.size - filled} left "
                f"in the {tuple(output.shape)} {output.dtype} array"
            )
        body = stream.read(cbytes - _BLOSC_HEADER.size)
        if len(body) < cbytes - _BLOSC_HEADER.size:
            raise ServiceError(f"the /npz response ended inside frame {index}")
        try:
            data = blosc.decompress(header + body)
        except Exception as exc:  # blosc raises RuntimeError/ValueError for corrupt frames
            raise ServiceError(f"frame {index} does not decompress: {exc}") from exc
        flat[filled : filled + len(data)] = np.frombuffer(data, dtype=np.uint8)
        filled += len(data)
    if filled != flat.size:
        raise ServiceError(
            f"Did not receive complete array: got {filled} of {flat.size} bytes "
            f"for shape {tuple(output.shape)} {output.dtype}"
        )
    if stream.read(1):
        raise ServiceError("the /npz response has bytes after its last frame")
    return output, metadata


def read_raster_files(content: bytes) -> dict[str, Any]:
    """Parse the §4.4 framing: a JSON line with ``files: N``, then N (name/length line, bytes)."""
    end = content.find(b"\n")
    try:
        head = json.loads(content[:end])
        count = int(head["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ServiceError(f"bad /raster response header: {exc}") from exc
    files: dict[str, bytes] = {}
    pos = end + 1
    for index in range(count):
        end = content.find(b"\n", pos)
        try:
            entry = json.loads(content[pos:end]) if end >= 0 else None
            name, length = str(entry["name"]), int(entry["length"])  # type: ignore[index]
        except (ValueError, KeyError, TypeError) as exc:
            raise ServiceError(f"bad /raster header for file {index}: {exc}") from exc
        data = content[end + 1 : end + 1 + length]
        if len(data) != length:
            raise ServiceError(f"/raster file {name!r} is truncated: {len(data)} of {length} bytes")
        files[name] = data
        pos = end + 1 + length
    return {**head, "files": files}


def _geometry_string(value: Any) -> str | None:
    """A geometry as the JSON (or WKT) string the wire carries (``shape``, ``geom``)."""
    if value is None or isinstance(value, str):
        return value
    mapping = getattr(value, "__geo_interface__", value)
    if isinstance(mapping, Mapping) and mapping.get("type") == "Feature":
        mapping = mapping["geometry"]
    if not isinstance(mapping, Mapping):
        raise InvalidInput(f"not a geometry: {type(value).__name__}", field="geometry")
    return json.dumps(dict(mapping))


def raster_body(
    inputs: str | Sequence[str],
    bands: str | Sequence[str] | None = None,
    scales: Sequence[Any] | None = None,
    data_type: str | None = None,
    srs: str | None = None,
    resolution: float | None = None,
    dimensions: Sequence[int] | None = None,
    cutline: Any = None,
    place: str | None = None,
    bounds: Sequence[float] | None = None,
    bounds_srs: str | None = None,
    align_pixels: bool = False,
    resampler: str | None = None,
    dltile: str | Mapping[str, Any] | None = None,
    processing_level: str | None = None,
    **pass_through: Any,
) -> dict[str, Any]:
    """The §4.1 JSON body: every key present (null when unset), ``dltile`` only when set."""
    if place is not None:
        raise InvalidInput(
            "place= needs a Places service, which rastercat does not have", field="place"
        )
    if resolution is not None and dimensions is not None:
        raise InvalidInput("set resolution or dimensions, not both", field="resolution")
    if isinstance(inputs, str):
        ids: str | list[str] = inputs
    else:
        ids = list(inputs)
        if not ids:
            raise InvalidInput("no inputs: give at least one image id", field="inputs")
    if isinstance(bands, str):
        bands = bands.split()
    body: dict[str, Any] = {
        "ids": ids,
        "bands": None if bands is None else list(bands),
        "scales": None if scales is None else [None if s is None else list(s) for s in scales],
        "ot": data_type,
        "srs": srs,
        "resolution": resolution,
        "shape": _geometry_string(cutline),
        "outputBounds": None if bounds is None else list(bounds),
        "outputBoundsSRS": bounds_srs,
        "outsize": None if dimensions is None else list(dimensions),
        "targetAlignedPixels": align_pixels,
        "resampleAlg": resampler,
        "processing_level": processing_level,
    }
    if dltile is not None:
        body["dltile"] = dltile if isinstance(dltile, str) else dltile["properties"]["key"]
    body.update(pass_through)
    return body


class Raster(Service):
    """Client of the Raster service (``/raster/v1``)."""

    path = RASTER_PATH
    timeout = 300.0

    def ndarray(
        self,
        inputs: str | Sequence[str],
        bands: str | Sequence[str] | None = None,
        scales: Sequence[Any] | None = None,
        data_type: str | None = None,
        srs: str | None = None,
        resolution: float | None = None,
        dimensions: Sequence[int] | None = None,
        cutline: Any = None,
        place: str | None = None,
        bounds: Sequence[float] | None = None,
        bounds_srs: str | None = None,
        align_pixels: bool = False,
        resampler: str | None = None,
        order: str = "image",
        dltile: str | Mapping[str, Any] | None = None,
        processing_level: str | None = None,
        **pass_through: Any,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Pixels of ``inputs`` (mosaicked in order, last on top) on the requested grid.

        Returns ``(array, metadata)``: a 2-D array for one band; for several, (y, x, band) with
        ``order="image"`` or (band, y, x) with ``order="gdal"``.
        """
        if order not in ("image", "gdal"):
            raise InvalidInput(f"order must be 'image' or 'gdal', not {order!r}", field="order")
        body = raster_body(
            inputs, bands, scales, data_type, srs, resolution, dimensions, cutline, place,
            bounds, bounds_srs, align_pixels, resampler, dltile, processing_level, **pass_through,
        )  # fmt: skip
        body["of"] = "blosc"
        with self._client.stream("POST", "/npz", json=body) as response:
            if response.status_code >= 400:
                response.read()
                raise_for_status(response)
            array, metadata = read_blosc_array(_ChunkReader(response.iter_bytes()))
        if order == "image" and array.ndim == 3:
            array = array.transpose((1, 2, 0))
        return array, metadata

    def raster(
        self,
        inputs: str | Sequence[str],
        bands: str | Sequence[str] | None = None,
        scales: Sequence[Any] | None = None,
        data_type: str | None = None,
        output_format: str = "GTiff",
        srs: str | None = None,
        resolution: float | None = None,
        dimensions: Sequence[int] | None = None,
        cutline: Any = None,
        place: str | None = None,
        bounds: Sequence[float] | None = None,
        bounds_srs: str | None = None,
        align_pixels: bool = False,
        resampler: str | None = None,
        dltile: str | Mapping[str, Any] | None = None,
        processing_level: str | None = None,
        save: bool = False,
        outfile_basename: str | None = None,
        **pass_through: Any,
    ) -> dict[str, Any]:
        """A file rendering (GTiff, PNG or JPEG) of ``inputs``: ``{"files": {name: bytes}, "metadata"...}``.

        With ``save=True`` the files are written to the working directory (named ``outfile_basename``
        plus the server's extension, when given) and ``files`` is keyed by the written names.
        """
        body = raster_body(
            inputs, bands, scales, data_type, srs, resolution, dimensions, cutline, place,
            bounds, bounds_srs, align_pixels, resampler, dltile, processing_level, **pass_through,
        )  # fmt: skip
        body["of"] = output_format
        result = read_raster_files(self.post("/raster", json=body).content)
        if outfile_basename is not None:
            renamed: dict[str, bytes] = {}
            for index, (name, data) in enumerate(result["files"].items()):
                ext = name.split(".", 1)[1] if "." in name else ""
                base = outfile_basename if index == 0 else f"{outfile_basename}_{index}"
                renamed[f"{base}.{ext}" if ext else base] = data
            result["files"] = renamed
        if save:
            for name, data in result["files"].items():
                Path(os.path.basename(name)).write_bytes(data)
        return result

    def stack(
        self,
        inputs: Sequence[str | Sequence[str]],
        bands: str | Sequence[str] | None = None,
        scales: Sequence[Any] | None = None,
        data_type: str | None = "UInt16",
        srs: str | None = None,
        resolution: float | None = None,
        dimensions: Sequence[int] | None = None,
        cutline: Any = None,
        place: str | None = None,
        bounds: Sequence[float] | None = None,
        bounds_srs: str | None = None,
        align_pixels: bool = False,
        resampler: str | None = None,
        order: str = "image",
        dltile: str | Mapping[str, Any] | None = None,
        processing_level: str | None = None,
        max_workers: int | None = None,
        **pass_through: Any,
    ) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """One ``ndarray`` per entry of ``inputs`` (in parallel), stacked on a new first axis.

        The grid must be fully defined (``dltile``, or ``bounds`` with ``resolution``/``dimensions``)
        so every entry has the same shape: (n, y, x, band) for ``order="image"``, else (n, band, y, x).
        """
        if dltile is None and (bounds is None or (resolution is None and dimensions is None)):
            raise InvalidInput(
                "stack needs a fixed grid: dltile, or bounds with resolution or dimensions"
            )
        if not inputs:
            raise InvalidInput("no inputs to stack", field="inputs")

        def read(entry: str | Sequence[str]) -> tuple[np.ndarray, dict[str, Any]]:
            array, meta = self.ndarray(
                entry, bands, scales, data_type, srs, resolution, dimensions, cutline, place,
                bounds, bounds_srs, align_pixels, resampler, order, dltile, processing_level,
                **pass_through,
            )  # fmt: skip
            if array.ndim == 2:
                array = array[..., np.newaxis] if order == "image" else array[np.newaxis]
            return array, meta

        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            results = list(pool.map(read, inputs))
        return np.stack([a for a, _ in results]), [m for _, m in results]

    def dltile(self, key: str) -> dict[str, Any]:
        """The tile Feature of a DLTile key ``tilesize:pad:resolution:zone:ti:tj``."""
        if not key or any(c in key for c in "/?#"):
            raise InvalidInput(f"not a DLTile key: {key!r}", field="key")
        return dict(self.get(f"/dlkeys/{key}").json())

    def dltile_from_latlon(
        self, lat: float, lon: float, resolution: float, tilesize: int, pad: int
    ) -> dict[str, Any]:
        """The tile containing a WGS84 point."""
        params = {"resolution": resolution, "tilesize": tilesize, "pad": pad}
        return dict(self.get(f"/dlkeys/from_latlon/{lat:f}/{lon:f}", params=params).json())

    def iter_dltiles_from_shape(
        self, resolution: float, tilesize: int, pad: int, shape: Any, maxtiles: int = 5000
    ) -> Iterator[dict[str, Any]]:
        """Every tile intersecting ``shape``, page by page (the server's ``iterstate``)."""
        body: dict[str, Any] = {
            "resolution": resolution,
            "tilesize": tilesize,
            "pad": pad,
            "shape": _geometry_string(shape),
            "maxtiles": maxtiles,
        }
        while True:
            page = self.post("/dlkeys/from_shape", json=body).json()
            yield from page.get("features", [])
            iterstate = page.get("iterstate")
            if not iterstate:
                return
            body.update({k: iterstate[k] for k in ("start_zone", "start_ti", "start_tj")})

    def dltiles_from_shape(
        self, resolution: float, tilesize: int, pad: int, shape: Any, maxtiles: int = 5000
    ) -> dict[str, Any]:
        """All tiles intersecting ``shape`` as one FeatureCollection."""
        features = list(self.iter_dltiles_from_shape(resolution, tilesize, pad, shape, maxtiles))
        return {"type": "FeatureCollection", "features": features}

"""Client-side pieces of the two-step upload (wire protocol §2.7/§2.8), kept free of the Catalog class.

* checking an ndarray upload and building its request body, as the 0.17 client did;
* writing the array as a ``.npy`` file;
* the unauthenticated, streamed PUT of a file to its upload URL, with an optional progress bar;
* reading an upload result's status, and polling with a deadline.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import numpy as np

from rastercat.errors import IngestError, InvalidInput

NDARRAY_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
OVERVIEW_RESAMPLERS = (
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
MAX_OVERVIEWS = 16
# Below this a bar flickers by faster than it can be read.
PROGRESS_MIN_BYTES = 4 * 1024 * 1024
CHUNK_BYTES = 1024 * 1024
# The 0.17 client's read timeout for the Catalog service, upload PUT included (protocol §1.2).
PUT_TIMEOUT = httpx.Timeout(30.0, connect=9.5)

FINISHED = ("SUCCESS", "FAILURE")

T = TypeVar("T")


def check_ndarray(ndarray: Any) -> np.ndarray:
    """The array to save: a masked array's data; 2-D (one band) or 3-D with bands last."""
    if not isinstance(ndarray, np.ndarray):
        raise InvalidInput(f"ndarray must be a numpy array, not {type(ndarray).__name__}")
    if ndarray.dtype.name not in NDARRAY_DTYPES:
        raise InvalidInput(
            f"ndarray dtype {ndarray.dtype.name} is not supported; use one of {', '.join(NDARRAY_DTYPES)}"
        )
    if ndarray.ndim not in (2, 3):
        raise InvalidInput(
            f"ndarray must be 2-D (rows, cols) or 3-D (rows, cols, bands) with bands last; "
            f"got {ndarray.ndim}-D shape {ndarray.shape}"
        )
    if ndarray.size == 0:
        raise InvalidInput(f"ndarray is empty (shape {ndarray.shape})")
    # A masked array is sent as its data; the mask is dropped (the 0.17 behaviour).
    return np.ma.getdata(ndarray)


def ndarray_upload_body(
    *,
    proj4: str | None = None,
    wkt_srs: str | None = None,
    geotrans: Sequence[float] | None = None,
    raster_meta: Mapping[str, Any] | None = None,
    overviews: Sequence[int] | None = None,
    overview_resampler: str | None = None,
) -> dict[str, Any]:
    """The georeferencing and ``process_controls`` of an ndarray upload, validated client-side."""
    if raster_meta is not None:
        # As in 0.17, raster_meta wins over explicit arguments.
        try:
            geotrans = raster_meta["geoTransform"]
            wkt_srs = raster_meta["coordinateSystem"]["wkt"]
        except (KeyError, TypeError) as exc:
            raise InvalidInput(
                "raster_meta must hold 'geoTransform' and 'coordinateSystem': {'wkt': ...} "
                "(the metadata Raster.ndarray/Scene.ndarray return with raster_info=True)"
            ) from exc
    if geotrans is None:
        raise InvalidInput("ndarray uploads need geotrans (a GDAL 6-tuple), or raster_meta")
    geotrans = list(geotrans)
    if len(geotrans) != 6 or not all(isinstance(v, int | float) for v in geotrans):
        raise InvalidInput(f"geotrans must be 6 numbers (GDAL order), got {geotrans!r}")
    if not proj4 and not wkt_srs:
        raise InvalidInput(
            "ndarray uploads need a coordinate system: proj4 or wkt_srs, or raster_meta"
        )

    controls: dict[str, Any] = {"upload_type": "ndarray"}
    if overviews is not None:
        overviews = list(overviews)
        if len(overviews) > MAX_OVERVIEWS:
            raise InvalidInput(f"at most {MAX_OVERVIEWS} overviews, got {len(overviews)}")
        if not all(isinstance(v, int) and not isinstance(v, bool) and v > 1 for v in overviews):
            raise InvalidInput(f"overviews must be integer factors > 1, got {overviews!r}")
        controls["overviews"] = overviews
    if overview_resampler is not None:
        if overview_resampler not in OVERVIEW_RESAMPLERS:
            raise InvalidInput(
                f"overview_resampler {overview_resampler!r} is not one of {', '.join(OVERVIEW_RESAMPLERS)}"
            )
        controls["overview_resampler"] = overview_resampler

    body: dict[str, Any] = {"process_controls": controls, "geotrans": geotrans}
    if wkt_srs:
        body["wkt_srs"] = wkt_srs
    if proj4:
        body["proj4"] = proj4
    return body


@contextmanager
def npy_file(ndarray: np.ndarray) -> Iterator[Path]:
    """The array written as a temporary ``.npy`` (format 1.0, no pickles), removed afterwards."""
    fd, name = tempfile.mkstemp(suffix=".npy", prefix="rastercat-")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, np.ascontiguousarray(ndarray), allow_pickle=False)
        yield path
    finally:
        path.unlink(missing_ok=True)


def show_progress(size: int, progress: bool | None) -> bool:
    """A bar when asked, or by default for big files on an interactive stderr."""
    if progress is not None:
        return progress
    return size >= PROGRESS_MIN_BYTES and sys.stderr.isatty()


def _chunks(f: IO[bytes], on_chunk: Callable[[int], object] | None) -> Iterator[bytes]:
    while chunk := f.read(CHUNK_BYTES):
        if on_chunk is not None:
            on_chunk(len(chunk))
        yield chunk


def put_file(url: str, path: str | os.PathLike[str], *, progress: bool | None = None) -> None:
    """PUT the file's bytes to its upload URL: no Authorization (the URL is the capability), streamed."""
    from rastercat.client._http import raise_for_status

    path = Path(path)
    size = path.stat().st_size
    headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
    bar = None
    if show_progress(size, progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=size, unit="B", unit_scale=True, unit_divisor=1024, desc=path.name)
    try:
        with path.open("rb") as f, httpx.Client(timeout=PUT_TIMEOUT) as client:
            response = client.put(
                url, content=_chunks(f, bar.update if bar else None), headers=headers
            )
        raise_for_status(response)
    finally:
        if bar is not None:
            bar.close()


def upload_attributes(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes of an upload result, whether or not the server wraps them in ``data``."""
    data = doc.get("data", doc)
    if isinstance(data, Mapping):
        attrs = data.get("attributes", data)
        if isinstance(attrs, Mapping):
            return dict(attrs)
    return {}


def raise_if_failed(upload_id: str, doc: Mapping[str, Any]) -> None:
    attrs = upload_attributes(doc)
    if attrs.get("status") != "FAILURE":
        return
    detail = attrs.get("logs") or attrs.get("exception_name") or "no log was recorded"
    raise IngestError(
        f"upload {upload_id} failed: {str(detail).strip()}",
        failure_type=attrs.get("failure_type") or "unknown",
        upload_id=upload_id,
    )


MAX_WAIT = 60.0
"""The longest the server holds an upload-result request (``?wait=``), in seconds."""


def poll(check: Callable[[], T | None], *, timeout: float, interval: float, what: str) -> T:
    """Call ``check`` until it returns non-None; TimeoutError after ``timeout`` seconds."""
    if timeout < 0 or interval <= 0:
        raise InvalidInput("timeout must be >= 0 and poll interval > 0")
    deadline = time.monotonic() + timeout
    while True:
        started = time.monotonic()
        result = check()
        if result is not None:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{what} not finished after {timeout:g} s")
        # A check that long-polled has waited already; one that answered at once is spaced out.
        time.sleep(max(0.0, min(interval - (time.monotonic() - started), remaining)))

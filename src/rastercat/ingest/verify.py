"""Prove that a written COG is complete before anyone is told it exists.

``rio_cogeo.cog_validate`` checks the layout but says "valid" for a truncated file and for one
whose tiles were never written (offset and size 0), which is what a killed writer leaves. So every
tile of every IFD is also checked against the file size, and every pixel is decoded once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Interleaving
from rasterio.errors import RasterioError
from rasterio.windows import Window
from rio_cogeo import cog_validate

from rastercat.errors import IngestError
from rastercat.ingest.gdal_env import ingest_env

READ_CHUNK_BYTES = 64 * 2**20
"""Decoded bytes per read while checking pixels."""


def _check_blocks(ds: rasterio.DatasetReader, file_size: int, level: str) -> None:
    bh, bw = ds.block_shapes[0]
    nx = (ds.width + bw - 1) // bw
    ny = (ds.height + bh - 1) // bh
    # Pixel-interleaved files share one tile per position for all bands.
    bands = range(1, ds.count + 1) if ds.interleaving == Interleaving.band else [1]
    for bidx in bands:
        for j in range(ny):
            for i in range(nx):
                off = ds.get_tag_item(f"BLOCK_OFFSET_{i}_{j}", "TIFF", bidx=bidx)
                size = ds.get_tag_item(f"BLOCK_SIZE_{i}_{j}", "TIFF", bidx=bidx)
                if not off or not size or int(off) <= 0 or int(size) <= 0:
                    raise IngestError(
                        f"COG check failed: {level} band {bidx} tile ({i}, {j}) was never written"
                    )
                if int(off) + int(size) > file_size:
                    raise IngestError(
                        f"COG check failed: {level} band {bidx} tile ({i}, {j}) ends at byte "
                        f"{int(off) + int(size)}, past the end of the file ({file_size} bytes)"
                    )


def _read_all(ds: rasterio.DatasetReader) -> None:
    """Decode every pixel of the full-resolution image once, in block-aligned windows."""
    bh, bw = ds.block_shapes[0]
    itemsize = ds.count * max(np.dtype(dt).itemsize for dt in ds.dtypes)
    cols = max(bw, (READ_CHUNK_BYTES // max(bh * itemsize * bw, 1)) * bw)
    for r0 in range(0, ds.height, bh):
        for c0 in range(0, ds.width, cols):
            win = Window(c0, r0, min(cols, ds.width - c0), min(bh, ds.height - r0))
            ds.read(window=win)


HASH_CHUNK_BYTES = 8 * 2**20
"""Bytes hashed per read, into one reused buffer. The hash runs in a thread beside Python work
(verification, footprint, statistics), and after each chunk it waits for the GIL (up to the 5 ms
switch interval): big chunks keep those waits few (8 MiB hashes in ~10 ms)."""


class HashCancelled(Exception):
    """:func:`file_md5` was told to stop."""


def file_md5(path: Path, stop: threading.Event | None = None) -> str:
    """The md5 of a file, read into one reused buffer (no allocation per chunk); raises
    :class:`HashCancelled` when ``stop`` is set."""
    return file_digest(path, "md5", stop)


def file_digest(path: Path, algorithm: str, stop: threading.Event | None = None) -> str:
    """The hex digest of a file with ``algorithm`` (``md5``, ``sha256``), as :func:`file_md5`."""
    h = hashlib.new(algorithm, usedforsecurity=False)
    buf = memoryview(bytearray(HASH_CHUNK_BYTES))
    with path.open("rb", buffering=0) as f:
        while n := f.readinto(buf):
            if stop is not None and stop.is_set():
                raise HashCancelled(str(path))
            h.update(buf[:n])
    return h.hexdigest()


class ClaimedChecksum:
    """The SHA-256 a client declared for a resumable upload that S3 assembled (the API never saw
    its bytes), checked against the object an ingest job fetched, hashed in a thread beside the
    conversion (hashlib releases the GIL). A mismatch fails the job: the stored bytes are not the
    ones the client sent."""

    def __init__(self, claimed: str, path: Path, note: Callable[[str], None]) -> None:
        self.claimed, self.note = claimed.lower(), note
        self._stop = threading.Event()
        self._started = time.perf_counter()
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rastercat-sha256")
        self._digest = pool.submit(file_digest, path, "sha256", self._stop)
        pool.shutdown(wait=False)

    @classmethod
    def start(cls, params: Mapping[str, Any], files: Sequence[Path],
              note: Callable[[str], None]) -> ClaimedChecksum | None:  # fmt: skip
        """Start checking when the upload's parameters hold a client's SHA-256 that the API did
        not compute itself (``sha256_checked``: it assembled local parts)."""
        claimed = params.get("sha256")
        if not claimed or params.get("sha256_checked", True) or len(files) != 1:
            return None
        return cls(str(claimed), files[0], note)

    def cancel(self) -> None:
        self._stop.set()

    def verify(self) -> None:
        digest = self._digest.result()
        if digest != self.claimed:
            raise IngestError(
                f"the uploaded file's SHA-256 is {digest}, not {self.claimed} as declared when "
                "the upload was completed: the stored bytes are not the ones sent; upload the "
                "file again",
                failure_type="checksum",
            )
        self.note(
            "SHA-256 of the uploaded file checked against the client's in "
            f"{time.perf_counter() - self._started:.2f} s"
        )


def verify_cog(path: Path, *, decode: bool = True) -> None:
    """Raise IngestError unless ``path`` is a complete, valid COG: rio-cogeo's validation, then
    every tile's offset and size inside the file (what catches a truncated or half-written COG,
    which ``cog_validate`` alone calls valid), then, with ``decode``, every pixel decoded once.

    Ingest passes ``decode=False``: the file was written by GDAL in this same process, the block
    check catches what a kill mid-write leaves, and the md5 recorded with the image pins the bytes.
    Decoding everything again cost about a fifth of the ingest time."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        raise IngestError(f"COG check failed: {path.name} is missing or empty")
    file_size = path.stat().st_size
    with ingest_env():
        try:
            valid, errors, _warnings = cog_validate(str(path), quiet=True)
        except Exception as exc:  # rio-cogeo raises many kinds on a broken file
            raise IngestError(f"COG check failed: {path.name} cannot be validated ({exc})") from exc
        if not valid:
            raise IngestError(
                f"COG check failed: {path.name} is not a valid COG: {'; '.join(errors)}"
            )
        try:
            with rasterio.open(path, driver="GTiff") as ds:
                _check_blocks(ds, file_size, "full resolution")
                n_overviews = len(ds.overviews(1))
            for level in range(n_overviews):
                with rasterio.open(path, driver="GTiff", overview_level=level) as ovr:
                    _check_blocks(ovr, file_size, f"overview {level + 1}")
            if decode:
                with rasterio.open(path, driver="GTiff") as ds:
                    _read_all(ds)
        except RasterioError as exc:
            raise IngestError(f"COG check failed: {path.name} is unreadable ({exc})") from exc

"""Receiving a part of a resumable upload through the API (local storage): streamed to a
temporary file beside the upload's other parts, hashed on the way, and kept only when its SHA-256
is the one the client sent in ``x-amz-checksum-sha256``."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rastercat.catalog.multipart import (
    CHECKSUM_HEADER,
    RECEIVED_CAP,
    parse_checksum,
)
from rastercat.catalog.upload_claims import Claim, renew_interval
from rastercat.errors import Conflict, InvalidInput
from rastercat.store.multipart import LocalParts
from rastercat.store.spool import Spool

if TYPE_CHECKING:
    from rastercat.catalog.multipart import MultipartService


async def receive_part(
    svc: MultipartService,
    token: str,
    number: int,
    checksum: str | None,
    content_length: int | None,
    chunks: AsyncIterator[bytes],
) -> dict[str, Any]:
    """A part's bytes, through the API (local storage): stored only if their SHA-256 is the
    one in ``x-amz-checksum-sha256``; 400 naming the checksum otherwise."""
    import anyio

    row = await anyio.to_thread.run_sync(svc.session_row, token)
    if not isinstance(svc.parts, LocalParts):
        raise Conflict("the parts of this upload go straight to the bucket: ask for part URLs")
    mp = row["params"]["multipart"]
    expected = svc.expected_size(mp, number)
    if checksum is None:
        raise InvalidInput(f"the {CHECKSUM_HEADER} header (the part's base64 SHA-256) is missing",
                           field=CHECKSUM_HEADER)  # fmt: skip
    want = base64.b64decode(parse_checksum(checksum, f"the {CHECKSUM_HEADER} header"))
    if content_length is not None and content_length != expected:
        raise InvalidInput(f"part {number} must be {expected} bytes, not {content_length}",
                           field="Content-Length")  # fmt: skip
    claim = await anyio.to_thread.run_sync(svc.hold, row)
    tmp = svc.parts.temp_part(row["uid"], number)
    try:
        digest, size = await _receive(svc, claim, chunks, tmp, expected)
        if size != expected:
            raise InvalidInput(f"part {number} must be {expected} bytes; {size} arrived",
                               field="Content-Length")  # fmt: skip
        if digest.digest() != want:
            raise InvalidInput(
                f"{CHECKSUM_HEADER} does not match the bytes of part {number}: the part was "
                f"refused (their SHA-256 is {base64.b64encode(digest.digest()).decode()}); "
                "send it again",
                field=CHECKSUM_HEADER,
            )
        await anyio.to_thread.run_sync(
            svc.parts.keep_part, row["uid"], number, tmp, digest.hexdigest()
        )
    finally:
        tmp.unlink(missing_ok=True)
    if len(svc.received) >= RECEIVED_CAP:  # a recent-history metric, never a memory leak
        svc.received.clear()
    svc.received[(row["uid"], number)] += 1
    return {"part_number": number, "size": size, "checksum_sha256": checksum}


async def _receive(
    svc: MultipartService, claim: Claim, chunks: AsyncIterator[bytes], tmp: Path, expected: int
) -> tuple[Any, int]:
    import anyio

    digest = hashlib.sha256()
    size = 0
    renewed = anyio.current_time()
    every = renew_interval(svc.idle)
    async with await anyio.open_file(tmp, "wb") as f:
        # Hashed beside the write, off the event loop, a block at a time.
        stream = chunks.__aiter__()
        async with Spool(f.wrapped, digest) as spool:
            while True:
                try:
                    with anyio.fail_after(svc.idle):
                        chunk = await stream.__anext__()
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise Conflict(
                        f"no data arrived for {svc.idle:g} s: send the part again"
                    ) from None
                size += len(chunk)
                if size > expected:
                    raise InvalidInput(
                        f"the part is larger than {expected} bytes", field="Content-Length"
                    )
                await spool.add(chunk)
                if anyio.current_time() - renewed >= every:
                    await anyio.to_thread.run_sync(claim.renew)
                    renewed = anyio.current_time()
            await spool.flush()
    return digest, size

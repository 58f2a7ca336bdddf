"""A request body, arriving in small chunks, written to a file one block at a time.

The server hands a body over in chunks of 64 KiB or so. Two things made that costly before:

- Joining the chunks into a fresh ``bytes`` per block allocated 1 MiB and freed it again, and
  glibc gave the freed top of the heap back to the kernel each time (``brk`` up and down): every
  page of every block was faulted in anew, ~194,000 minor faults for an 800 MiB PUT. Two buffers,
  allocated once per body and reused for every block, keep the heap still (under 1,000 faults).
- The event loop waited for each block's write, and uvicorn stops reading the socket once 64 KiB
  is waiting: receiving and writing took turns. A block is now written (and hashed, when asked:
  ``hashlib`` releases the GIL) in a thread of its own while the next one fills.

The writes go to one thread per body, not through ``anyio.to_thread``: a write must run while the
task that handed it over goes on receiving, and anyio runs a thread only for the task awaiting
it (a task group would do, but it wraps the body's own errors, a 413 say, in an ExceptionGroup).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import IO, Any, Protocol

BLOCK = 2**20
"""Bytes per write. A body holds two blocks while it arrives."""


class Digest(Protocol):
    def update(self, data: Any, /) -> None: ...


class Spool:
    """Buffer :meth:`add`-ed chunks; write each full block to ``file`` (and into ``digest``) in
    a thread, one block at a time, in order. :meth:`flush` once the body has ended: it writes
    the rest and raises what any write raised. Leaving the ``async with`` waits for the write in
    progress, so the file may be closed (or removed) afterwards. Asyncio only (uvicorn's loop)."""

    def __init__(self, file: IO[bytes], digest: Digest | None = None, block: int = BLOCK) -> None:
        self.file = file
        self.digest = digest
        self._block = block
        self._buffers = (memoryview(bytearray(block)), memoryview(bytearray(block)))
        self._filling = 0
        self._held = 0
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rastercat-spool")
        self._writing: Future[None] | None = None
        self.written = 0
        """Bytes in the file so far (every write before them has finished)."""

    async def __aenter__(self) -> Spool:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # After a flush nothing is in flight. Otherwise (an error, a cancellation) the one
        # write in progress, a block at most, is waited for here, even by a cancelled task:
        # the file is closed next.
        self._writer.shutdown(wait=True)

    async def add(self, chunk: bytes) -> None:
        """Take ``chunk``; hand over whichever blocks it fills."""
        data = memoryview(chunk)
        while data:
            n = min(len(data), self._block - self._held)
            self._buffers[self._filling][self._held : self._held + n] = data[:n]
            self._held += n
            data = data[n:]
            if self._held == self._block:
                await self._hand_over()

    async def flush(self) -> None:
        """Write what is held and wait for every write; raise the error of any."""
        if self._held:
            await self._hand_over()
        await self._wait()

    async def _hand_over(self) -> None:
        await self._wait()  # the other buffer is free again
        block = self._buffers[self._filling][: self._held]
        self._writing = self._writer.submit(self._write, block)
        self._filling ^= 1
        self._held = 0

    async def _wait(self) -> None:
        if self._writing is not None:
            await asyncio.wrap_future(self._writing)  # raises the write's error, if any
            self._writing = None

    def _write(self, data: memoryview) -> None:
        if self.digest is not None:
            self.digest.update(data)
        self.file.write(data)
        self.written += len(data)

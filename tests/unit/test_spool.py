"""The spool's failure paths (its happy path runs through the real HTTP app in
tests/uploads/test_put_bytes.py): errors arrive unwrapped, and nothing writes after the exit."""

from __future__ import annotations

import errno
import hashlib
import threading
from pathlib import Path

import anyio
import pytest

from rastercat.store.spool import Spool


class FullDisk:
    """A file whose writes fail as on a full disk (the boundary: the file system)."""

    def write(self, data: memoryview) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


class SlowFile:
    """Records each write; the first one waits until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.sizes: list[int] = []

    def write(self, data: memoryview) -> int:
        self.started.set()
        self.release.wait(10)
        self.sizes.append(len(data))
        return len(data)


def test_a_failed_write_is_raised_as_itself() -> None:
    async def main() -> None:
        async with Spool(FullDisk(), block=10) as spool:
            await spool.add(b"x" * 25)
            await spool.flush()

    with pytest.raises(OSError) as caught:
        anyio.run(main)
    assert caught.value.errno == errno.ENOSPC


def test_the_bodys_own_error_is_raised_unwrapped_after_the_write_in_progress() -> None:
    slow = SlowFile()

    async def main() -> None:
        async with Spool(slow, block=10) as spool:
            await spool.add(b"x" * 10)  # handed to the writer, which waits
            await anyio.to_thread.run_sync(slow.started.wait, 10)
            threading.Timer(0.05, slow.release.set).start()
            raise LookupError("the body was refused")

    with pytest.raises(LookupError):
        anyio.run(main)
    assert slow.sizes == [10]  # finished before the exit returned: the file may be closed


def test_blocks_are_written_and_hashed_in_order(tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    digest = hashlib.sha256()

    async def main() -> int:
        with (tmp_path / "out").open("wb") as f:
            async with Spool(f, digest, block=1000) as spool:
                for i in range(0, len(data), 333):
                    await spool.add(data[i : i + 333])
                await spool.flush()
        return spool.written

    assert anyio.run(main) == len(data)
    assert (tmp_path / "out").read_bytes() == data
    assert digest.digest() == hashlib.sha256(data).digest()

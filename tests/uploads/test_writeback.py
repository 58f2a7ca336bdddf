"""The upload's writeback is started while it arrives (sync_file_range), never waited for."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from rastercat.store.writeback import Writeback


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range is Linux's")
def test_writeback_starts_in_steps_and_keeps_the_bytes(tmp_path: Path):
    path = tmp_path / "upload.part"
    data = os.urandom(3 * 2**20 + 5)
    with path.open("wb", buffering=0) as f:
        wb = Writeback(f.fileno(), every=2**20)
        written = 0
        for start in range(0, len(data), 2**19):
            written += f.write(data[start : start + 2**19])
            if wb.due(written):
                assert wb.start(written)
                assert wb.started == written
        assert not wb.due(written)
        assert wb.start(written) or wb.started == written
    assert wb.started == len(data)
    assert path.read_bytes() == data


def test_writeback_on_a_closed_file_is_refused_not_raised(tmp_path: Path):
    path = tmp_path / "x"
    with path.open("wb") as f:
        f.write(b"x" * 10)
        fd = f.fileno()
    wb = Writeback(fd, every=1)
    assert wb.start(10) is False
    assert wb.started == 0

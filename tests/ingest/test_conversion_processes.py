"""Conversion child processes: a memory limit per child, and a child that dies never sends its
upload to the API process (the one that runs these tests: its pid is ``os.getpid()``)."""

from __future__ import annotations

import os
import re
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from _ingest_helpers import UTM43, UTM43_TRANSFORM, Uploads

from helpers import write_geotiff
from rastercat.config import Limits
from rastercat.errors import IngestError
from rastercat.ingest import BandSpec, IngestRequest
from rastercat.ingest.isolated import PipelinePool

LIMIT = 400 * 2**20
"""Room for a child's imports and threads (about 130 MiB here), not for a 288 MB block."""


def sparse_bomb(path: Path) -> Path:
    """A valid 384-byte GeoTIFF: one 12000 x 12000 UInt16 tile, never written (sparse). GDAL
    allocates the whole 288 MB block to read any pixel of it."""
    with rasterio.open(
        path, "w", driver="GTiff", width=12000, height=12000, count=1, dtype="uint16", crs=UTM43,
        transform=UTM43_TRANSFORM, tiled=True, blockxsize=12000, blockysize=12000,
        compress="deflate", sparse_ok=True,
    ):  # fmt: skip
        pass
    return path


def conversion_pids(log: str) -> list[int]:
    return [int(p) for p in re.findall(r"converting in process (\d+)", log)]


def test_a_conversion_over_the_memory_limit_fails_and_the_server_goes_on(
    ingest_server: Any, tmp_path: Path
) -> None:
    server = ingest_server(isolate=True, child_memory_bytes=LIMIT)
    up = Uploads(server)
    try:
        pid = up.product()
        bomb = up.wait(pid, up.upload(pid, sparse_bomb(tmp_path / "bomb.tif")))
        assert bomb["status"] == "FAILURE", bomb["logs"]
        assert bomb["failure_type"] == "oom"
        assert "ran out of memory" in bomb["logs"] and str(LIMIT) in bomb["logs"], bomb["logs"]
        assert "ingest.child_memory_bytes" in bomb["logs"]
        pids = conversion_pids(bomb["logs"])
        assert pids and os.getpid() not in pids, "the API process converted the upload"
        assert up.client.get("/health").status_code == 200
        data = np.arange(64 * 48, dtype="uint16").reshape(48, 64)
        fine = up.wait(pid, up.upload(pid, write_geotiff(tmp_path / "fine.tif", data)))
        assert fine["status"] == "SUCCESS", fine["logs"]
        assert os.getpid() not in conversion_pids(fine["logs"])
        assert server.state.conversions.in_process is False
    finally:
        up.close()


def slow_raster(path: Path, side: int = 1500) -> Path:
    rng = np.random.default_rng(0)
    ramp = np.add.outer(np.arange(side), np.arange(side)) % 300
    return write_geotiff(path, (ramp + rng.integers(0, 500, (side, side))).astype("uint16"))


class Killer(threading.Thread):
    """SIGKILLs the pool's children each time a new conversion has started writing (as the OOM
    killer would, mid-conversion), until stopped."""

    def __init__(self, pool: PipelinePool, work_dir: Path) -> None:
        super().__init__(daemon=True)
        self.pool, self.work_dir = pool, work_dir
        self.stopped = threading.Event()
        self.kills = 0

    def run(self) -> None:
        seen: set[str] = set()
        while not self.stopped.wait(0.02):
            runs = {p.name.split("-")[2].split(".")[0] for p in self.work_dir.glob("rastercat-*")}
            executor = self.pool._executor
            if runs - seen and executor is not None:
                for child in list(executor._processes or {}):
                    os.kill(child, signal.SIGKILL)
                self.kills += 1
                seen |= runs


def test_a_child_that_dies_on_a_fresh_pool_never_converts_in_this_process(tmp_path: Path) -> None:
    """A pool that has not finished a task yet (fresh) loses its child mid-conversion: the job
    fails (after one more try in a fresh process); it is not converted in this process."""
    work = tmp_path / "work"
    work.mkdir()
    request = IngestRequest("file", (slow_raster(tmp_path / "slow.tif"),), (BandSpec("b1", 1),),
                            compression="ZSTD", compression_level=19)  # fmt: skip
    pool = PipelinePool(1)
    killer = Killer(pool, work)
    killer.start()
    lines: list[str] = []
    try:
        with pytest.raises(IngestError, match="conversion process died") as info:
            pool.run(request, work, Limits(), lines.append)
        assert info.value.failure_type == "oom"
        assert killer.kills == 2, "each try was killed mid-conversion"
        assert pool.in_process is False
        assert not any("converting in this process" in line for line in lines), lines
    finally:
        killer.stopped.set()
        killer.join(10)
    # The pool recovers: the next conversion runs in a fresh child.
    lines.clear()
    small = write_geotiff(
        tmp_path / "small.tif", np.arange(64 * 48, dtype="uint16").reshape(48, 64)
    )
    result = pool.run(IngestRequest("file", (small,), (BandSpec("b1", 1),)), work, Limits(),
                      lines.append)  # fmt: skip
    assert result.cog_path.is_file()
    pids = conversion_pids("\n".join(lines))
    assert pids and os.getpid() not in pids
    pool.shutdown()


def niceness(log: str) -> list[int]:
    return [int(n) for n in re.findall(r"converting in process \d+ \(niceness (\d+)\)", log)]


def test_conversions_run_at_a_lower_priority_than_the_api(
    ingest_server: Any, tmp_path: Path
) -> None:
    """The children add ``ingest.nice`` to the API process's niceness (so a busy machine serves
    requests first); 0 leaves them at the API's."""
    own = os.nice(0)
    data = np.arange(64 * 48, dtype="uint16").reshape(48, 64)
    for nice, expected in ((5, min(19, own + 5)), (0, own)):
        server = ingest_server(isolate=True, nice=nice)
        up = Uploads(server)
        try:
            pid = up.product()
            job = up.wait(pid, up.upload(pid, write_geotiff(tmp_path / f"n{nice}.tif", data)))
            assert job["status"] == "SUCCESS", job["logs"]
            assert niceness(job["logs"]) == [expected], job["logs"]
            assert os.getpid() not in conversion_pids(job["logs"])
            assert os.nice(0) == own, "the API process's own priority must not change"
        finally:
            up.close()


@pytest.mark.parametrize("nice", [-1, 20])
def test_a_niceness_outside_0_to_19_is_refused(nice: int) -> None:
    from pydantic import ValidationError

    from rastercat.config import IngestSettings

    with pytest.raises(ValidationError, match="nice"):
        IngestSettings(nice=nice)

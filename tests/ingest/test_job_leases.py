"""Leases of ingest jobs: a heartbeat keeps a long conversion owned, a dead worker's job is taken
over once, attempts are capped, and two attempts of a job never share a work folder.

The test is the worker here (a server with no ingest workers): it claims and runs jobs with
``JobRunner``s of short leases. Conversions are made slow for real, with a high ZSTD level.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from _ingest_helpers import Uploads

from helpers import wait_for, write_geotiff
from rastercat.ingest.jobs import JobRunner
from rastercat.store.sql.repo import t

LEASE = 0.6
"""Seconds: the heartbeat renews every 0.2 s; a conversion below runs for several leases."""


def slow_raster(path: Path, side: int = 2400) -> Path:
    """Noisy pixels: at ZSTD level 19 they take a few seconds to convert here (several leases;
    the first test below checks it, so a faster conversion fails loudly, not silently)."""
    rng = np.random.default_rng(0)
    ramp = np.add.outer(np.arange(side), np.arange(side)) % 300
    return write_geotiff(path, (ramp + rng.integers(0, 500, (side, side))).astype("uint16"))


@pytest.fixture
def server(ingest_server: Any) -> Any:
    return ingest_server(start_workers=False, compression_level=19, max_attempts=3)


@pytest.fixture
def up(server: Any) -> Any:
    u = Uploads(server)
    yield u
    u.close()


def runner(server: Any, **ingest: Any) -> JobRunner:
    settings = server.settings
    if ingest:
        settings = settings.model_copy(update={"ingest": settings.ingest.model_copy(update=ingest)})
    return JobRunner(server.state.repo, server.state.objects, settings, lease=LEASE)


def pending(server: Any, up: Any, path: Path) -> tuple[str, str]:
    """(product id, job uid) of an uploaded file whose job waits for a worker."""
    pid = up.product()
    name = up.upload(pid, path)
    row = server.state.repo.one(t.uploads, product_id=pid, upload_id=name)
    assert row["status"] == "PENDING"
    return pid, row["uid"]


def expire(server: Any, uid: str) -> None:
    """The lease of a claimed job runs out (its worker died before running it: no heartbeat)."""
    with server.state.repo.tx() as conn:
        conn.execute(sa.update(t.uploads).where(t.uploads.c.uid == uid)
                     .values(lease_until=time.time() - 1))  # fmt: skip


def row(server: Any, uid: str) -> dict[str, Any]:
    return dict(server.state.repo.one(t.uploads, uid=uid))


def images(server: Any, pid: str) -> list[dict[str, Any]]:
    return server.state.repo.all(t.images, t.images.c.product_id == pid)


def in_thread(fn: Any, *args: Any) -> tuple[threading.Thread, dict[str, Any]]:
    out: dict[str, Any] = {}

    def target() -> None:
        out["value"] = fn(*args)

    th = threading.Thread(target=target, daemon=True)
    th.start()
    return th, out


def test_a_conversion_longer_than_its_lease_is_not_claimed_again(server: Any, up: Any,
                                                                  tmp_path: Path) -> None:  # fmt: skip
    pid, uid = pending(server, up, slow_raster(tmp_path / "slow.tif"))
    first, second = runner(server), runner(server)
    job = first.claim(uid)
    assert job is not None
    started = time.monotonic()
    th, out = in_thread(first.run, job)
    stolen, ahead = [], []
    while th.is_alive():  # a second worker looks for claimable jobs the whole time
        taken = second.claim(uid)
        if taken is not None:
            stolen.append(taken["attempts"])
        current = row(server, uid)
        if current["status"] == "RUNNING":
            ahead.append(current["lease_until"] - time.time())
        th.join(0.05)
    # The lease stayed short (a dead worker's job is soon free) and was renewed all along.
    assert ahead and max(ahead) <= LEASE + 0.05, max(ahead)
    elapsed = time.monotonic() - started
    assert elapsed > 3 * LEASE, f"the conversion ({elapsed:.2f} s) must outlive several leases"
    assert stolen == [], "a job whose worker is alive and converting was claimed again"
    assert out["value"] == "SUCCESS"
    assert row(server, uid)["attempts"] == 1 and row(server, uid)["status"] == "SUCCESS"
    assert [i["storage_key"].endswith("-1.tif") for i in images(server, pid)] == [True]


WORKER = """
import sys
from pathlib import Path

from rastercat.config import IngestSettings, Settings
from rastercat.ingest.celery_app import open_worker_context

settings = Settings(data_dir=Path(sys.argv[1]),
                    ingest=IngestSettings(isolate=False, compression_level=19))
ctx = open_worker_context(settings, lease=float(sys.argv[3]))
job = ctx.runner.claim(sys.argv[2])
print("claimed" if job else "nothing", flush=True)
ctx.runner.run(job)
print("finished", flush=True)
"""


def test_the_job_of_a_worker_that_died_is_taken_over_and_completes_once(
    server: Any, up: Any, tmp_path: Path
) -> None:
    pid, uid = pending(server, up, slow_raster(tmp_path / "slow.tif"))
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    worker = subprocess.Popen(
        [sys.executable, str(script), str(server.settings.data_dir), uid, str(LEASE)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "claimed"
        work = server.settings.data_dir / "work"
        wait_for(lambda: work.is_dir() and any(p.is_file() for p in work.rglob("*")), 60,
                 what="the worker process to be converting")  # fmt: skip
    finally:
        os.kill(worker.pid, signal.SIGKILL)  # mid-conversion: no heartbeat from now on
        worker.wait(30)
    assert row(server, uid)["status"] == "RUNNING"
    taker = runner(server)
    job = wait_for(lambda: taker.claim(uid), 30, what="the dead worker's lease to expire")
    assert job["attempts"] == 2
    assert taker.run(job) == "SUCCESS"
    assert taker.claim(uid) is None
    final = row(server, uid)
    assert final["status"] == "SUCCESS" and final["attempts"] == 2
    [image] = images(server, pid)
    assert image["storage_key"].endswith("-2.tif")
    assert up.wait(pid, "slow.tif")["status"] == "SUCCESS"


def test_a_job_claimed_past_max_attempts_ends_failure(server: Any, up: Any,
                                                      tmp_path: Path) -> None:  # fmt: skip
    small = write_geotiff(
        tmp_path / "small.tif", np.arange(64 * 48, dtype="uint16").reshape(48, 64)
    )
    pid, uid = pending(server, up, small)
    capped = runner(server, max_attempts=2)
    for attempt in (1, 2):  # each claiming worker dies before finishing
        job = capped.claim(uid)
        assert job is not None and job["attempts"] == attempt
        expire(server, uid)
    job = capped.claim(uid)
    assert job is not None and job["attempts"] == 3
    assert capped.run(job) == "FAILURE"
    result = up.wait(pid, "small.tif")
    assert result["status"] == "FAILURE"
    assert "gave up after 2 attempt(s)" in result["logs"], result["logs"]
    assert images(server, pid) == []
    assert capped.claim(uid) is None
    raw = row(server, uid)["file_key"]
    wait_for(lambda: not server.state.objects.exists(raw), 10,
             what="the raw upload to be removed")  # fmt: skip


def test_two_attempts_of_a_job_never_share_a_work_folder(server: Any, up: Any,
                                                         tmp_path: Path) -> None:  # fmt: skip
    pid, uid = pending(server, up, slow_raster(tmp_path / "slow.tif"))
    late, winner = runner(server), runner(server)
    stale = late.claim(uid)
    expire(server, uid)  # the first worker stalls past its lease; a second one takes the job over
    fresh = winner.claim(uid)
    assert stale is not None and fresh is not None and fresh["attempts"] == 2
    work = server.settings.data_dir / "work"

    def folders() -> dict[Path, set[str]]:
        """Each work folder with the runs (file name tokens) that have files in it."""
        seen: dict[Path, set[str]] = {}
        # os.walk skips folders that vanish mid-walk (an attempt cleaning up), rglob raises.
        for root, dirs, files in os.walk(work):
            for name in [*dirs, *files]:
                if name.startswith("rastercat-"):
                    token = name.split("-")[2].split(".")[0]
                    seen.setdefault(Path(root), set()).add(token)
        return seen

    th_late, out_late = in_thread(late.run, stale)
    wait_for(folders, 60, what="the stale attempt to be converting")
    th_win, out_win = in_thread(winner.run, fresh)
    shared = []
    while th_late.is_alive() or th_win.is_alive():
        shared += [(p.name, runs) for p, runs in folders().items() if len(runs) > 1]
        th_late.join(0.02)
    th_win.join(60)
    assert shared == [], f"two attempts worked in one folder: {shared[:3]}"
    assert out_late["value"] == "SUPERSEDED"
    assert out_win["value"] == "SUCCESS"
    final = row(server, uid)
    assert final["status"] == "SUCCESS" and final["attempts"] == 2
    [image] = images(server, pid)
    assert image["storage_key"].endswith("-2.tif")
    assert server.state.objects.exists(image["storage_key"])


def test_a_superseded_attempt_never_renews_the_lease_of_the_one_that_took_over(
    server: Any, up: Any, tmp_path: Path
) -> None:
    """Attempt 1 stalls past its lease and is taken over by attempt 2, whose worker then dies:
    attempt 1, still converting and beating, must not keep attempt 2's job alive."""
    pid, uid = pending(server, up, slow_raster(tmp_path / "slow.tif"))
    late, dead, rescuer = runner(server), runner(server), runner(server)
    stale = late.claim(uid)
    expire(server, uid)
    assert dead.claim(uid) is not None  # attempt 2: its worker dies at once (never runs)
    th, out = in_thread(late.run, stale)
    rescued = None
    while th.is_alive() and rescued is None:
        rescued = rescuer.claim(uid)
        th.join(0.05)
    assert rescued is not None, "the stale attempt's heartbeat kept the dead attempt's lease alive"
    assert rescued["attempts"] == 3
    th.join(60)
    assert out["value"] == "SUPERSEDED"
    assert rescuer.run(rescued) == "SUCCESS"
    [image] = images(server, pid)
    assert image["storage_key"].endswith("-3.tif")

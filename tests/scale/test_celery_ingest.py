"""Ingest through Celery with Redis and PostgreSQL: deliveries, duplicates, dead workers, sweeps.

The API server runs on PostgreSQL without in-process workers; a real Celery worker (in a thread of
this process, consuming from Redis) runs the jobs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from helpers import wait_for, write_geotiff
from rastercat.config import IngestSettings, Settings
from rastercat.ingest.celery_app import (
    enqueue_ingest,
    make_celery,
    open_worker_context,
    run_delivery,
    sweep_jobs,
)
from rastercat.store.sql.repo import t

CAT = "/metadata/v1/catalog"
BAND = {"name": "b1", "srcband": 1, "dtype": "UInt16", "nbits": 16, "data_range": [0, 10000],
        "type": "spectral"}  # fmt: skip


@pytest.fixture(scope="module")
def settings(pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    ingest = IngestSettings(queue="celery", broker_url=redis_url, workers=0)
    return Settings(data_dir=tmp_path_factory.mktemp("celery"), database_url=pg_url,
                    ingest=ingest, start_workers=False)  # fmt: skip


@pytest.fixture(scope="module")
def server(settings: Settings, root_conftest: Any) -> Iterator[Any]:
    live = root_conftest.LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def celery_app(settings: Settings) -> Any:
    return make_celery(settings, lease=3.0)


@pytest.fixture(scope="module")
def worker(celery_app: Any) -> Iterator[Any]:
    from celery.contrib.testing.worker import start_worker

    with start_worker(celery_app, pool="threads", concurrency=2, perform_ping_check=False,
                      shutdown_timeout=30) as w:  # fmt: skip
        yield w


@pytest.fixture
def ctx(settings: Settings) -> Any:
    return open_worker_context(settings)


@pytest.fixture
def unannounced(server: Any) -> Iterator[None]:
    """The API stops enqueueing jobs that become PENDING (as if the broker lost its messages), so
    a test delivers them itself."""
    uploads = server.state.uploads
    saved, uploads.on_pending = uploads.on_pending, None
    try:
        yield
    finally:
        uploads.on_pending = saved


def pending_upload(server: Any, tmp_path: Path, name: str = "scene.tif") -> tuple[str, str, str]:
    """A product with a band and one uploaded file whose job is PENDING: (product, upload id, uid)."""
    c = server.client("alice")
    pid = f"cel-{tmp_path.name[-12:].replace('_', '')}-{time.monotonic_ns() % 10**8}"
    r = c.post(f"{CAT}/products", json={"id": pid, "title": "T", "description": "D"})
    assert r.status_code == 201, r.text
    pid = r.json()["data"]["id"]
    assert c.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201
    path = write_geotiff(tmp_path / name, np.arange(64 * 64, dtype="uint16").reshape(1, 64, 64))
    url = c.post(f"{CAT}/products/{pid}/images/upload/{name}",
                 json={"process_controls": {"upload_type": "file"}}).text  # fmt: skip
    assert __import__("httpx").put(url, content=path.read_bytes()).status_code == 200
    row = server.state.repo.one(t.uploads, product_id=pid, upload_id=name)
    assert row is not None and row["status"] in ("PENDING", "RUNNING", "SUCCESS")
    return pid, name, row["uid"]


def status(server: Any, uid: str) -> str:
    return server.state.repo.one(t.uploads, uid=uid)["status"]


def images_of(server: Any, pid: str) -> int:
    return server.state.repo.count(t.images, t.images.c.product_id == pid)


def test_the_api_enqueues_an_upload_that_arrives(server: Any, worker: Any, tmp_path: Path) -> None:
    pid, _, uid = pending_upload(server, tmp_path)
    wait_for(lambda: status(server, uid) == "SUCCESS", 60, what="the Celery worker to ingest")
    assert images_of(server, pid) == 1


def test_a_job_delivered_twice_yields_one_image(server: Any, celery_app: Any, worker: Any,
                                                tmp_path: Path) -> None:  # fmt: skip
    pid, _, uid = pending_upload(server, tmp_path)
    for _ in range(3):
        enqueue_ingest(celery_app, uid)
    wait_for(lambda: status(server, uid) == "SUCCESS", 60, what="the Celery worker to ingest")
    # Let the duplicates run out: they find the job finished and do nothing.
    wait_for(lambda: _queue_empty(celery_app), 30, what="the duplicate deliveries to drain")
    assert images_of(server, pid) == 1
    assert server.state.repo.one(t.uploads, uid=uid)["attempts"] == 1


def _queue_empty(app: Any) -> bool:
    with app.connection_for_write() as conn:
        return conn.default_channel.client.llen("rastercat-ingest") == 0


def test_a_job_held_by_a_live_worker_is_left_alone(
    unannounced: None, server: Any, ctx: Any, tmp_path: Path
) -> None:
    _, _, uid = pending_upload(server, tmp_path)
    held = ctx.runner.claim(uid)
    assert held is not None
    outcome, again = run_delivery(ctx, uid, lease=3.0)
    assert outcome == "BUSY" and again is not None and 1.0 <= again <= 3.0
    assert status(server, uid) == "RUNNING"


def test_the_job_of_a_dead_worker_completes_once_its_lease_expires(
    unannounced: None, server: Any, ctx: Any, tmp_path: Path
) -> None:
    pid, _, uid = pending_upload(server, tmp_path)
    assert ctx.runner.claim(uid) is not None  # ...and the claiming worker dies: no heartbeat
    with server.state.repo.tx() as conn:
        conn.execute(sa.update(t.uploads).where(t.uploads.c.uid == uid)
                     .values(lease_until=time.time() - 1))  # fmt: skip
    outcome, again = run_delivery(ctx, uid, lease=3.0)
    assert (outcome, again) == ("SUCCESS", None)
    assert images_of(server, pid) == 1
    assert server.state.repo.one(t.uploads, uid=uid)["attempts"] == 2


def test_finished_and_unknown_jobs_are_no_ops(
    unannounced: None, server: Any, ctx: Any, tmp_path: Path
) -> None:
    _, _, uid = pending_upload(server, tmp_path)
    assert run_delivery(ctx, uid, lease=3.0)[0] == "SUCCESS"
    assert run_delivery(ctx, uid, lease=3.0) == ("DONE", None)
    assert run_delivery(ctx, "0" * 32, lease=3.0) == ("GONE", None)


def test_the_sweep_enqueues_stranded_jobs(
    unannounced: None, server: Any, celery_app: Any, worker: Any, tmp_path: Path
) -> None:
    """A message lost by the broker (never sent here) cannot strand a job: the sweep finds it."""
    pid, _, uid = pending_upload(server, tmp_path)
    assert sweep_jobs(server.state.repo, celery_app, stale_after=0.0) >= 1
    wait_for(lambda: status(server, uid) == "SUCCESS", 60, what="the swept job to ingest")
    assert images_of(server, pid) == 1

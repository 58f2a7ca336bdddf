"""What the server runs beside the API: ingest workers and catalog maintenance."""

from __future__ import annotations

import logging

import sqlalchemy as sa

from rastercat.api.state import AppState
from rastercat.catalog.maintenance import Maintenance, MaintenanceThread
from rastercat.catalog.uploads import UploadService
from rastercat.ingest.jobs import JobRunner
from rastercat.ingest.worker import WorkerPool
from rastercat.store.objects import open_object_store
from rastercat.store.sql.repo import t

log = logging.getLogger("rastercat")


def start_background(state: AppState) -> None:
    settings = state.settings
    objects = open_object_store(settings.resolved_storage_url)
    state.extras["objects"] = objects
    state.extras["uploads"] = UploadService(
        state.repo,
        state.catalog,
        objects,
        state.secret,
        settings.data_dir / "incoming",
        settings.upload_url_ttl,
        settings.limits.max_upload_bytes,
    )
    runner = JobRunner(state.repo, objects, settings)
    state.extras["runner"] = runner
    maintenance = MaintenanceThread(Maintenance(state.repo, objects, settings.upload_url_ttl))
    state.extras["maintenance"] = maintenance
    maintenance.start()
    if settings.start_workers and settings.ingest.queue == "local":
        sweep(state, runner)
        pool = WorkerPool(runner, settings.ingest.workers, settings.ingest.poll_interval)
        state.extras["workers"] = pool
        state.extras["wake_workers"] = pool.wake
        pool.start()


def sweep(state: AppState, runner: JobRunner) -> None:
    """Start-up recovery of the embedded server: requeue interrupted jobs, clear temporaries and
    remove stored files that no record points to."""
    import shutil

    requeued = runner.requeue_running()
    if requeued:
        log.info("requeued %d interrupted ingest job(s)", requeued)
    shutil.rmtree(runner.work_root, ignore_errors=True)
    shutil.rmtree(state.settings.data_dir / "incoming", ignore_errors=True)
    objects = state.extras["objects"]
    with state.repo.tx() as conn:
        referenced = {r[0] for r in conn.execute(sa.select(t.images.c.storage_key)) if r[0]}
        live = {r[0]: r[1] for r in conn.execute(sa.select(t.uploads.c.uid, t.uploads.c.status))}
        raw = {r[0] for r in conn.execute(sa.select(t.uploads.c.file_key)) if r[0]}
    for key in list(objects.list("products")):
        if key in referenced:
            continue
        # products/{product uid}/{upload uid}-{attempt}.tif
        if key.endswith(".partial") or live.get(
            key.rsplit("/", 1)[-1].removesuffix(".tif").split("-")[0]
        ) not in (
            "PENDING",
            "RUNNING",
        ):
            objects.delete(key)
    for key in list(objects.list("uploads")):
        uid = key.split("/")[1] if "/" in key else ""
        if key not in raw or live.get(uid) in ("SUCCESS", "FAILURE", None):
            objects.delete(key)


def stop_background(state: AppState) -> None:
    pool = state.extras.get("workers")
    if pool is not None:
        pool.stop()
    maintenance = state.extras.get("maintenance")
    if maintenance is not None:
        maintenance.stop()

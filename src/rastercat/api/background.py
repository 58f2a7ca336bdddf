"""What the server runs beside the API: ingest workers and catalog maintenance."""

from __future__ import annotations

import logging
from collections.abc import Callable

import sqlalchemy as sa

from rastercat.api.state import AppState
from rastercat.catalog.arrivals import Periodic
from rastercat.catalog.maintenance import Maintenance, MaintenanceThread
from rastercat.catalog.multipart import MultipartService
from rastercat.catalog.uploads import UploadService
from rastercat.ingest.isolated import PipelinePool
from rastercat.ingest.jobs import JobRunner
from rastercat.ingest.worker import WorkerPool
from rastercat.store.s3 import object_store_from_settings
from rastercat.store.sql.repo import t

log = logging.getLogger("rastercat")


def start_background(state: AppState) -> None:
    """Open the object store and start what this process runs besides the API.

    - ``ingest.queue == "celery"``: jobs that become PENDING here are enqueued; ``rastercat worker``
      processes run them, notice direct uploads and recover stranded jobs (this process never
      touches jobs it does not own: any number of replicas can run).
    - local queue with workers (``rastercat serve``): the in-process pool runs jobs, after the
      start-up recovery that only a single embedded server may do.
    - local queue with ``--no-workers``: the API only; a server with workers polls the job table.
    """
    settings = state.settings
    objects = object_store_from_settings(settings)
    state.extras["objects"] = objects
    local_workers = settings.ingest.queue != "celery" and settings.start_workers
    conversions = (
        PipelinePool(settings.ingest.workers, settings.ingest.child_memory_bytes)
        if local_workers and settings.ingest.isolate
        else None
    )
    state.extras["conversions"] = conversions
    if conversions is not None:
        conversions.warm()
    runner = JobRunner(state.repo, objects, settings, pool=conversions)
    state.extras["runner"] = runner
    pool: WorkerPool | None = None
    notify: Callable[[str], None] | None = None
    if settings.ingest.queue == "celery":
        notify = _celery_notifier(state)
    elif settings.start_workers:
        pool = WorkerPool(
            runner,
            settings.ingest.workers,
            settings.ingest.poll_interval,
            on_finished=state.job_events.finished,
        )
        state.extras["workers"] = pool
        wake = pool.wake
        notify = lambda _uid: wake()  # noqa: E731 (the pool claims from the table itself)
    state.extras["wake_workers"] = notify
    uploads = UploadService(
        state.repo,
        state.catalog,
        objects,
        state.secret,
        settings.data_dir / "incoming",
        settings.upload_url_ttl,
        settings.limits.max_upload_bytes,
        on_pending=notify,
        idle=settings.upload_idle_timeout,
    )
    state.extras["uploads"] = uploads
    multipart = MultipartService.for_app(uploads, settings)
    state.extras["multipart"] = multipart
    maintenance = MaintenanceThread(
        Maintenance(
            state.repo,
            objects,
            settings.upload_url_ttl,
            settings.upload_idle_timeout,
            upload_sweeps=[multipart.sweep_abandoned],
        )  # fmt: skip
    )
    state.extras["maintenance"] = maintenance
    if pool is not None:
        # Before the maintenance thread: the sweep lists and deletes files and folders that the
        # thread's deletions would otherwise prune at the same time.
        sweep(state, runner)
    maintenance.start()
    if pool is not None:
        pool.start()
        if uploads.direct is not None:  # nobody else looks at the bucket for this pool
            watcher = Periodic(
                uploads.arrivals.sweep, settings.ingest.arrival_interval, "rastercat-arrivals"
            )
            state.extras["arrivals"] = watcher
            watcher.start()


def _celery_notifier(state: AppState) -> Callable[[str], None]:
    from rastercat.ingest.celery_app import enqueue_ingest, make_celery

    app = make_celery(state.settings)  # once per process: it holds the broker connection pool
    state.extras["celery"] = app

    def notify(uid: str) -> None:
        try:
            enqueue_ingest(app, uid)
        except Exception:
            # The job row is PENDING already: the workers' sweep enqueues it later.
            log.warning("could not enqueue ingest job %s; the sweep will", uid, exc_info=True)

    return notify


def sweep(state: AppState, runner: JobRunner) -> None:
    """Start-up recovery of the embedded server: requeue interrupted jobs, clear temporaries and
    remove stored files that no record points to."""
    import shutil

    requeued = runner.requeue_running()
    if requeued:
        log.info("requeued %d interrupted ingest job(s)", requeued)
    with state.repo.tx() as conn:
        # PUTs cut off by the restart: give their uploads back, so their URLs work again.
        conn.execute(
            sa.update(t.uploads)
            .where(t.uploads.c.status == "UPLOADING", t.uploads.c.lease_until.is_not(None))
            .values(file_key=None, lease_until=None)
        )
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
    watcher = state.extras.get("arrivals")
    if watcher is not None:
        watcher.stop()
    pool = state.extras.get("workers")
    if pool is not None:
        pool.stop()
    conversions = state.extras.get("conversions")
    if conversions is not None:
        conversions.shutdown()
    maintenance = state.extras.get("maintenance")
    if maintenance is not None:
        maintenance.stop()
    app = state.extras.get("celery")
    if app is not None:
        app.close()

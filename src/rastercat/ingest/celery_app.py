"""Ingest on Celery workers: any number of ``rastercat worker`` processes on any machine.

The job row in the database stays the truth; a Celery message only says "look at upload X":

- messages are acknowledged late (after the task ends), and re-queued when a worker's process dies,
  so a job whose worker was killed is delivered again;
- a delivery claims the row (``JobRunner.claim``, ``SELECT ... FOR UPDATE SKIP LOCKED``); a second
  delivery of a job that is running elsewhere waits for that job's lease, and one of a finished job
  does nothing, so a job delivered twice yields one image;
- a claimed job's lease is short and renewed by a heartbeat while it runs (the same
  :class:`~rastercat.ingest.lease.Heartbeat`, fenced by attempt, as the in-process workers): a
  worker that dies stops renewing, and its job becomes claimable again soon;
- each worker sweeps the job table now and then and enqueues PENDING jobs and expired leases, so even
  a message lost by the broker (Redis restarted without persistence) cannot strand a job.

Nothing is built at import: :func:`make_celery` builds an app from settings; the worker's database
and object store are opened lazily in each worker process (never shared across ``fork``).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

from rastercat.config import Settings
from rastercat.periodic import Periodic
from rastercat.store.ports import JobRepository, UploadRepository
from rastercat.store.sql.jobs import Jobs
from rastercat.store.sql.repo import Repo, utcnow
from rastercat.store.sql.uploads import Uploads

log = logging.getLogger("rastercat.ingest.celery")

TASK_NAME = "rastercat.ingest_upload"
DEFAULT_LEASE = 60.0
"""Seconds a claimed job stays owned without a heartbeat (renewed every third of it); the
``--lease`` of ``rastercat worker`` overrides ``ingest.lease_seconds`` (whose default this is)."""


@dataclass
class WorkerContext:
    """What a task needs, opened once per worker process."""

    repo: Repo
    runner: Any  # JobRunner (imported lazily: it pulls in the GDAL pipeline)
    pid: int


def open_worker_context(settings: Settings, lease: float | None = None) -> WorkerContext:
    # This module is an entry point (the app Celery runs): it builds through the composition root.
    from rastercat.wiring import build

    services = build(settings, role="worker", lease=lease)
    return WorkerContext(repo=services.repo, runner=services.runner, pid=os.getpid())


def run_delivery(ctx: WorkerContext, uid: str, lease: float) -> tuple[str, float | None]:
    """Handle one delivery of ``uid``: (outcome, seconds after which to look again or None).

    Outcomes: the job's final status when this delivery ran it; ``PENDING`` when it should run again;
    ``BUSY`` when another worker holds a live lease; ``DONE``/``GONE`` when there is nothing to do.
    """
    job = ctx.runner.claim(uid)
    if job is None:
        uploads: UploadRepository = Uploads(ctx.repo)
        row = uploads.find(None, uid)
        if row is None:
            return "GONE", None
        if row["status"] == "RUNNING" and row["lease_until"] is not None:
            return "BUSY", max(1.0, min(row["lease_until"] - time.time() + 0.5, lease))
        return "DONE", None  # finished, failed, or not yet complete (WAITING/UPLOADING)
    status = ctx.runner.run(job)  # renews the lease while it runs
    return status, (1.0 if status == "PENDING" else None)


def make_celery(settings: Settings, lease: float | None = None) -> Any:
    """The Celery app of ingest, with the ``ingest_upload`` task registered."""
    from celery import Celery

    seconds = lease if lease is not None else settings.ingest.lease_seconds
    app = Celery("rastercat", broker=settings.ingest.broker_url)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue="rastercat-ingest",
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # A message not acknowledged within this time goes back to the queue (Redis transport): it
        # must outlive the longest ingest, or a slow job is delivered again while running; the
        # lease (not this timeout) is what recovers jobs of dead workers quickly.
        broker_transport_options={"visibility_timeout": 6 * 3600},
    )
    contexts: dict[int, WorkerContext] = {}

    def context() -> WorkerContext:
        pid = os.getpid()
        if pid not in contexts:
            contexts.clear()  # a forked child must not use its parent's connections
            contexts[pid] = open_worker_context(settings, seconds)
        return contexts[pid]

    # shared=False: a shared task would also be registered in every Celery app made later in this
    # process, and calls there would reach this app's closure (its settings, its lease).
    @app.task(name=TASK_NAME, bind=True, max_retries=None, shared=False)
    def ingest_upload(self: Any, upload_uid: str) -> str:
        outcome, again = run_delivery(context(), upload_uid, seconds)
        log.info("upload %s: %s", upload_uid, outcome)
        if again is not None:
            raise self.retry(countdown=again)
        return outcome

    app.rastercat_context = context  # type: ignore[attr-defined]
    return app


def enqueue_ingest(app: Any, upload_uid: str) -> None:
    """Ask some worker to ingest ``upload_uid`` (call when its job becomes PENDING)."""
    app.send_task(TASK_NAME, args=[upload_uid])


def sweep_jobs(repo: Repo, app: Any, stale_after: float = 30.0) -> int:
    """Enqueue jobs that no message may be carrying: PENDING for over ``stale_after`` seconds, or
    RUNNING with an expired lease. Duplicates are harmless (a claim settles who runs a job)."""
    from datetime import timedelta

    now = time.time()
    cutoff = utcnow() - timedelta(seconds=stale_after)
    jobs: JobRepository = Jobs(repo)
    uids = jobs.stranded(cutoff, now)
    for uid in uids:
        enqueue_ingest(app, uid)
    return len(uids)


class Sweeper(Periodic):
    """Runs :func:`sweep_jobs` every ``interval`` seconds in a worker's main process."""

    def __init__(self, repo: Repo, app: Any, interval: float, stale_after: float) -> None:
        self.repo, self.app, self.stale_after = repo, app, stale_after
        super().__init__(
            self._sweep,
            interval,
            "rastercat-sweeper",
            failure="the job sweep failed; retrying later",
            logger=log,
        )

    def _sweep(self) -> None:
        n = sweep_jobs(self.repo, self.app, self.stale_after)
        if n:
            log.info("re-enqueued %d stranded ingest job(s)", n)


def arrival_watcher(settings: Settings, repo: Repo, app: Any) -> Periodic | None:
    """A thread that notices direct uploads (presigned PUTs straight to the bucket) and enqueues
    their jobs, every ``ingest.arrival_interval`` seconds; None when uploads pass through the API."""
    from rastercat.catalog.arrivals import ArrivalCheck
    from rastercat.store.factory import object_store_from_settings
    from rastercat.store.objects import DirectUploads

    objects = object_store_from_settings(settings)
    if not (isinstance(objects, DirectUploads) and settings.s3.direct_uploads):
        return None
    check = ArrivalCheck(
        repo, objects, settings.limits.max_upload_bytes, lambda uid: enqueue_ingest(app, uid)
    )
    return Periodic(check.sweep, settings.ingest.arrival_interval, "rastercat-arrivals")

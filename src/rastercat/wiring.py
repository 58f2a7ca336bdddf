"""The composition root: the whole object graph of a process, built from the settings in one place.

:func:`build` serves every kind of process, each with the part it needs:

- ``"cli"``: the database (migrated), the secret, users and the catalog service (:class:`Core`);
  nothing runs in the background.
- ``"serve"`` / ``"api"``: the app's :class:`Services`. ``serve`` is ``rastercat serve``: with the
  local queue and ``start_workers`` it runs the ingest workers in-process; ``api`` never does.
  With ``ingest.queue == "celery"`` either only enqueues.
- ``"worker"``: a Celery worker process's :class:`WorkerServices` (its job runner; and, in the
  worker's main process, the sweeper and the arrival watcher).

What runs in the background starts in ``start()`` and ends in ``close()``; building starts nothing.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import sqlalchemy as sa

from rastercat import heap
from rastercat.catalog.maintenance import Maintenance, MaintenanceThread
from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.multipart import MultipartService
from rastercat.catalog.point_query import PointQuery
from rastercat.catalog.principal import Principal
from rastercat.catalog.service import CatalogService
from rastercat.catalog.stac_collections import BandCache
from rastercat.catalog.tile_layers import TileCatalog
from rastercat.catalog.tokens import load_or_create_secret
from rastercat.catalog.uploads import UploadService
from rastercat.catalog.users import UserService
from rastercat.config import Settings
from rastercat.ingest.isolated import PipelinePool
from rastercat.ingest.jobs import JobRunner
from rastercat.ingest.register import Registrar
from rastercat.ingest.worker import JobEvents, WorkerPool
from rastercat.periodic import Periodic
from rastercat.raster.slots import ReadSlots
from rastercat.store.factory import object_store_from_settings
from rastercat.store.objects import ObjectStore
from rastercat.store.sql.engine import make_engine, migrate
from rastercat.store.sql.recovery import release_cut_off_puts, stored_references
from rastercat.store.sql.repo import Repo

log = logging.getLogger("rastercat")

Role = Literal["serve", "api", "worker", "cli"]


def server_secret(settings: Settings) -> bytes:
    """``RASTERCAT_SECRET`` when set (replicas share it without sharing a disk), else the data
    directory's ``secret.key``."""
    if settings.secret is not None and settings.secret.get_secret_value():
        return settings.secret.get_secret_value().encode()
    return load_or_create_secret(settings.secret_path)


@dataclass
class Database:
    """What every process holds: the settings and the migrated database."""

    settings: Settings
    engine: sa.Engine
    repo: Repo

    def close(self) -> None:
        self.repo.close()


@dataclass
class Core(Database):
    """The database, the secret, users and the catalog: what the CLI's commands use."""

    secret: bytes
    users: UserService
    catalog: CatalogService


@dataclass
class ImageDeletion:
    """Removes an image: its record, then the file that rastercat wrote for it."""

    catalog: CatalogService
    objects: ObjectStore

    def delete(self, p: Principal, pid: str, key: str) -> None:
        storage_key = self.catalog.delete_image(p, pid, key)
        if storage_key:
            self.objects.delete(storage_key)


@dataclass
class Services(Core):
    """One app instance: the services its routes call, and what runs beside them."""

    objects: ObjectStore
    read_slots: ReadSlots
    """Bounds the raster reads and point queries running at once (``limits.max_concurrent_reads``)."""
    tile_slots: ReadSlots
    """Bounds the tile renders running at once (``limits.max_concurrent_tiles``)."""
    job_events: JobEvents
    """Wakes requests waiting for ingest jobs that this process's workers finish."""
    runner: JobRunner
    uploads: UploadService
    multipart: MultipartService
    metadata: MetadataService
    tiles: TileCatalog
    points: PointQuery
    registrar: Registrar
    images: ImageDeletion
    maintenance: MaintenanceThread
    stac_bands: BandCache
    conversions: PipelinePool | None = None
    """Child processes of conversions (local workers with ``ingest.isolate``)."""
    workers: WorkerPool | None = None
    """The in-process ingest workers (``serve`` with the local queue)."""
    celery: Any | None = None
    """The Celery app that jobs are enqueued on (``ingest.queue == "celery"``)."""
    arrivals: Periodic | None = None
    """Notices direct uploads for the in-process workers (nobody else looks at the bucket)."""
    heap_trim: Periodic | None = None
    """Gives freed heap memory back to the system (glibc) once the process grew by
    :data:`rastercat.heap.GROWTH` bytes; looks every ``memory_trim_interval`` s."""
    started: bool = field(default=False, init=False)

    @classmethod
    def open(cls, settings: Settings) -> Services:
        """The services of an API process (no in-process workers), started by nobody."""
        return build(settings, role="api")

    def start(self) -> None:
        """Start what this process runs besides the API.

        - Celery queue: jobs that become PENDING here are enqueued; ``rastercat worker`` processes
          run them, notice direct uploads and recover stranded jobs (this process never touches
          jobs it does not own: any number of replicas can run).
        - local queue with workers (``rastercat serve``): the in-process pool runs jobs, after the
          start-up recovery that only a single embedded server may do.
        - local queue without workers (``--no-workers``): the API only; a server with workers
          polls the job table.
        """
        self.started = True
        if self.conversions is not None:
            self.conversions.warm()
        if self.workers is not None:
            # Before the maintenance thread: the sweep lists and deletes files and folders that
            # the thread's deletions would otherwise prune at the same time.
            recover(self)
        self.maintenance.start()
        if self.heap_trim is not None:
            self.heap_trim.start()
        if self.workers is not None:
            self.workers.start()
            if self.arrivals is not None:
                self.arrivals.start()

    def close(self) -> None:
        if self.started:
            if self.arrivals is not None:
                self.arrivals.stop()
            if self.workers is not None:
                self.workers.stop()
            if self.conversions is not None:
                self.conversions.shutdown()
            self.maintenance.stop()
            if self.heap_trim is not None:
                self.heap_trim.stop()
        if self.celery is not None:
            self.celery.close()
        super().close()


@dataclass
class WorkerServices(Database):
    """A Celery worker process: its job runner; in the main process, the background loops."""

    objects: ObjectStore
    runner: JobRunner
    loops: list[Periodic] = field(default_factory=list)

    def start(self, celery: Any, sweep_interval: float) -> None:
        """One sweeper and one arrival watcher per worker machine (duplicates across workers are
        harmless); in the main process only (the pool's children run tasks)."""
        from rastercat.ingest.celery_app import Sweeper, arrival_watcher

        if sweep_interval > 0:
            stale_after = max(sweep_interval, 5.0)
            self.loops.append(Sweeper(self.repo, celery, sweep_interval, stale_after=stale_after))
        watcher = arrival_watcher(self.settings, self.repo, celery)
        if watcher is not None:
            self.loops.append(watcher)
        for loop in self.loops:
            loop.start()

    def close(self) -> None:
        for loop in self.loops:
            loop.stop(timeout=0)  # told to stop; a sweep under way ends with the process
        super().close()


def open_database(settings: Settings) -> Database:
    """The data directory (made if need be) and the database, migrated."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    return Database(settings=settings, engine=engine, repo=Repo(engine))


def _core(db: Database) -> Core:
    settings, repo = db.settings, db.repo
    secret = server_secret(settings)
    return Core(
        settings=settings,
        engine=db.engine,
        repo=repo,
        secret=secret,
        users=UserService(repo, secret, token_days=settings.token_days),
        catalog=CatalogService(repo, settings),
    )


@overload
def build(settings: Settings, *, role: Literal["cli"]) -> Core: ...
@overload
def build(settings: Settings, *, role: Literal["serve", "api"]) -> Services: ...
@overload
def build(
    settings: Settings, *, role: Literal["worker"], lease: float | None = None
) -> WorkerServices: ...
def build(settings: Settings, *, role: Role, lease: float | None = None) -> Database:
    """The object graph of a process of ``role`` (see the module docstring); ``lease`` overrides
    ``ingest.lease_seconds`` for a worker's jobs."""
    db = open_database(settings)
    if role == "worker":  # no secret, users or catalog: a worker only runs jobs
        objects = object_store_from_settings(settings)
        runner = JobRunner(db.repo, objects, settings, lease=lease)
        return WorkerServices(
            settings=settings, engine=db.engine, repo=db.repo, objects=objects, runner=runner
        )
    core = _core(db)
    if role == "cli":
        return core
    objects = object_store_from_settings(settings)
    return _services(core, objects, local_workers=role == "serve" and settings.start_workers)


def _fields(core: Core) -> dict[str, Any]:
    return {
        "settings": core.settings,
        "engine": core.engine,
        "repo": core.repo,
        "secret": core.secret,
        "users": core.users,
        "catalog": core.catalog,
    }


def _services(core: Core, objects: ObjectStore, *, local_workers: bool) -> Services:
    settings, repo = core.settings, core.repo
    celery_queue = settings.ingest.queue == "celery"
    local_workers = local_workers and not celery_queue
    conversions = (
        PipelinePool(
            settings.ingest.workers, settings.ingest.child_memory_bytes, settings.ingest.nice
        )
        if local_workers and settings.ingest.isolate
        else None
    )
    runner = JobRunner(repo, objects, settings, pool=conversions)
    job_events = JobEvents()
    workers: WorkerPool | None = None
    celery: Any | None = None
    notify: Callable[[str], None] | None = None
    if celery_queue:
        celery, notify = _celery_notifier(settings)
    elif local_workers:
        workers = WorkerPool(
            runner,
            settings.ingest.workers,
            settings.ingest.poll_interval,
            on_finished=job_events.finished,
        )
        wake = workers.wake
        notify = lambda _uid: wake()  # noqa: E731 (the pool claims from the table itself)
    uploads = UploadService(
        repo,
        core.catalog,
        objects,
        core.secret,
        settings.data_dir / "incoming",
        settings.upload_url_ttl,
        settings.limits.max_upload_bytes,
        on_pending=notify,
        idle=settings.upload_idle_timeout,
    )
    multipart = MultipartService.for_app(uploads, settings)
    maintenance = MaintenanceThread(
        Maintenance(
            repo,
            objects,
            settings.upload_url_ttl,
            settings.upload_idle_timeout,
            upload_sweeps=[multipart.sweep_abandoned],
        )
    )
    arrivals = None
    if workers is not None and uploads.direct is not None:
        arrivals = Periodic(
            uploads.arrivals.sweep, settings.ingest.arrival_interval, "rastercat-arrivals"
        )
    metadata = MetadataService(repo)
    return Services(
        **_fields(core),
        objects=objects,
        read_slots=ReadSlots(settings.limits.concurrent_reads()),
        tile_slots=ReadSlots(settings.limits.concurrent_tiles()),
        job_events=job_events,
        runner=runner,
        uploads=uploads,
        multipart=multipart,
        metadata=metadata,
        tiles=TileCatalog(metadata, objects),
        points=PointQuery(metadata, objects),
        registrar=Registrar(
            core.catalog, objects, settings.data_dir / "incoming", on_pending=uploads.on_pending
        ),
        images=ImageDeletion(core.catalog, objects),
        maintenance=maintenance,
        stac_bands=BandCache(),
        conversions=conversions,
        workers=workers,
        celery=celery,
        arrivals=arrivals,
        heap_trim=heap.trimmer(settings.memory_trim_interval),
    )


def _celery_notifier(settings: Settings) -> tuple[Any, Callable[[str], None]]:
    from rastercat.ingest.celery_app import enqueue_ingest, make_celery

    app = make_celery(settings)  # once per process: it holds the broker connection pool

    def notify(uid: str) -> None:
        try:
            enqueue_ingest(app, uid)
        except Exception:
            # The job row is PENDING already: the workers' sweep enqueues it later.
            log.warning("could not enqueue ingest job %s; the sweep will", uid, exc_info=True)

    return app, notify


def recover(services: Services) -> None:
    """Start-up recovery of the embedded server: requeue interrupted jobs, clear temporaries and
    remove stored files that no record points to."""
    runner, objects = services.runner, services.objects
    requeued = runner.requeue_running()
    if requeued:
        log.info("requeued %d interrupted ingest job(s)", requeued)
    release_cut_off_puts(services.repo)
    shutil.rmtree(runner.work_root, ignore_errors=True)
    shutil.rmtree(services.settings.data_dir / "incoming", ignore_errors=True)
    refs = stored_references(services.repo)
    for key in list(objects.list("products")):
        if key in refs.images:
            continue
        # products/{product uid}/{upload uid}-{attempt}.tif
        uid = key.rsplit("/", 1)[-1].removesuffix(".tif").split("-")[0]
        if key.endswith(".partial") or refs.upload_status.get(uid) not in ("PENDING", "RUNNING"):
            objects.delete(key)
    for key in list(objects.list("uploads")):
        uid = key.split("/")[1] if "/" in key else ""
        if key not in refs.upload_files or refs.upload_status.get(uid) in (
            "SUCCESS",
            "FAILURE",
            None,
        ):
            objects.delete(key)

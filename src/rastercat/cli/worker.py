"""``rastercat worker``: a Celery ingest worker (run any number, on any machine).

It needs the same database (``RASTERCAT_DATABASE_URL``), object store (``RASTERCAT_S3__*``) and broker
(``RASTERCAT_INGEST__BROKER_URL``) settings as the API processes.
"""

from __future__ import annotations

from pathlib import Path

import click

from rastercat.cli.options import data_dir_option


@click.command()
@data_dir_option
@click.option("--concurrency", "-c", type=int, default=None,
              help="Jobs run at once by this worker (default: the CPU count).")  # fmt: skip
@click.option("--lease", type=float, default=None,
              help="Seconds a job stays owned without a heartbeat from its worker (default 60).")  # fmt: skip
@click.option("--sweep-interval", type=float, default=30.0, show_default=True,
              help="Seconds between sweeps of the job table for stranded jobs (0: never).")  # fmt: skip
@click.option("--name", default=None, help="Celery node name (default: rastercat-<pid>@<host>).")
@click.option("--log-level", default="info", show_default=True)
def worker(data_dir: Path | None, concurrency: int | None, lease: float | None,
           sweep_interval: float, name: str | None, log_level: str) -> None:  # fmt: skip
    """Run ingest jobs from the broker until stopped (Ctrl-C finishes the running jobs).

    Jobs convert in the pool's child processes, at ``ingest.nice`` (``RASTERCAT_INGEST__NICE``)
    above this process's niceness, as ``rastercat serve``'s conversions do."""
    import logging
    import os

    from celery import signals

    from rastercat.config import load_settings
    from rastercat.ingest.celery_app import DEFAULT_LEASE, make_celery
    from rastercat.wiring import WorkerServices, build, open_database

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    settings = load_settings(data_dir=data_dir)
    # Fail here, with a clear message, rather than in the first task.
    open_database(settings).close()  # the pool's children open their own connections
    app = make_celery(settings, lease=lease or DEFAULT_LEASE)

    main: list[WorkerServices] = []

    @signals.worker_process_init.connect(weak=False)
    def _lower_priority(**_: object) -> None:
        # In each child of the prefork pool (where jobs convert), before GDAL starts threads (they
        # inherit it): beside an API on the same machine, tiles and searches get the CPU first.
        if settings.ingest.nice > 0:
            os.nice(settings.ingest.nice)

    @signals.worker_ready.connect(weak=False)
    def _start_threads(**_: object) -> None:
        # In the main process only (the pool's children run tasks).
        services = build(settings, role="worker", lease=lease or DEFAULT_LEASE)
        main.append(services)
        services.start(app, sweep_interval)

    argv = [
        "worker",
        f"--loglevel={log_level.upper()}",
        f"--hostname={name or f'rastercat-{os.getpid()}@%h'}",
        "--without-gossip",
        "--without-mingle",
    ]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    try:
        app.worker_main(argv)
    finally:
        for services in main:
            services.close()

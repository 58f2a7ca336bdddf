"""Everything one app instance holds, built in the lifespan from the settings (nothing at import)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from rastercat.api.job_events import JobEvents
from rastercat.catalog.service import CatalogService
from rastercat.catalog.tokens import load_or_create_secret
from rastercat.catalog.users import UserService
from rastercat.config import Settings
from rastercat.raster.slots import ReadSlots
from rastercat.store.sql.engine import make_engine, migrate
from rastercat.store.sql.repo import Repo


def server_secret(settings: Settings) -> bytes:
    """``RASTERCAT_SECRET`` when set (replicas share it without sharing a disk), else the data
    directory's ``secret.key``."""
    if settings.secret is not None and settings.secret.get_secret_value():
        return settings.secret.get_secret_value().encode()
    return load_or_create_secret(settings.secret_path)


@dataclass
class AppState:
    settings: Settings
    engine: sa.Engine
    repo: Repo
    secret: bytes
    users: UserService
    catalog: CatalogService
    job_events: JobEvents = field(default_factory=JobEvents)
    """Wakes requests waiting for ingest jobs that this process's workers finish."""
    extras: dict[str, Any] = field(default_factory=dict)
    read_slots: ReadSlots = field(default_factory=lambda: ReadSlots(1))
    """Bounds the raster reads and tile renders running at once (``limits.max_concurrent_reads``)."""

    @classmethod
    def open(cls, settings: Settings) -> AppState:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.resolved_database_url)
        migrate(engine)
        repo = Repo(engine)
        secret = server_secret(settings)
        return cls(
            settings=settings,
            engine=engine,
            repo=repo,
            secret=secret,
            users=UserService(repo, secret, token_days=settings.token_days),
            catalog=CatalogService(repo, settings),
            read_slots=ReadSlots(settings.limits.concurrent_reads()),
        )

    def close(self) -> None:
        self.engine.dispose()

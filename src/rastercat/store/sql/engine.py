"""Engine construction and migrations.

SQLite is used in WAL mode, and every transaction that may write starts with ``BEGIN IMMEDIATE``:
measured here, 16 threads of read-then-write transactions failed 3,029 times in 3,200 with a plain
``BEGIN`` ("database is locked"), and never with ``BEGIN IMMEDIATE``. Transactions opened with the
``READ_ONLY`` execution option (``Repo.read()``) start with a deferred ``BEGIN`` instead: in WAL mode
a reader never waits for the writer and never holds it up, so authentication, searches and long
summaries do not queue behind uploads. They run with ``PRAGMA query_only`` on, so a write slipped
into one fails at once rather than as an occasional "database is locked" under load.

PostgreSQL (``postgresql+psycopg://user@host/db``, with PostGIS) is for several processes on several
machines; every process may call :func:`migrate` at start-up: an advisory lock lets one of them
upgrade while the others wait, then find nothing left to do.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

READ_ONLY = "rastercat_read_only"
"""Execution option of a connection whose transaction only reads (see :meth:`Repo.read`)."""

BINARY_ROWS = "rastercat_binary_rows"
"""Execution option of a statement whose rows PostgreSQL should send in its binary format: numbers
and times arrive as machine values rather than text for psycopg to parse (measured at 1M images, a
search page of 111 rows of ``images``: 0.28 ms against 0.42-0.48 ms to execute and fetch, the same
values; a whole search in the service 3-6 % faster on pages of 60-100 rows). Only for statements whose columns all have binary loaders in psycopg (integers, floats,
text, timestamps): a column of a type it does not know (PostGIS ``geometry``) would arrive as
bytes instead of text. Ignored on SQLite."""

PING_AFTER_IDLE = 1.0
"""Seconds a pooled PostgreSQL connection may rest before it is pinged at checkout."""


def make_engine(url: str, *, ping_after_idle: float = PING_AFTER_IDLE) -> sa.Engine:
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            pool_size=16,
            max_overflow=32,
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, issue BEGIN (so it can be BEGIN IMMEDIATE).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            # A warm page cache matters most for R*Tree searches on large catalogs (measured:
            # a 1M-image bbox+date query went from ~22 ms to ~5 ms with a larger cache).
            cur.execute("PRAGMA cache_size=-32000")
            cur.execute("PRAGMA mmap_size=268435456")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            # Set on every begin: the pooled connection may have served the other kind last.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("PRAGMA query_only=ON")
                conn.exec_driver_sql("BEGIN")
            else:
                conn.exec_driver_sql("PRAGMA query_only=OFF")
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgres"):
        url = normalize_postgres_url(url)
    # Last in, first out: under load the few connections in use stay warm (and recently used).
    # Sessions in UTC: psycopg turns a timestamptz of a UTC session into a datetime with
    # ``timezone.utc``, but of a zone such as the server default ``Etc/UTC`` through zoneinfo,
    # which took a fifth of a world-wide search for a page of 100 (1M images). Every time
    # column is a timestamptz: the zone changes how values arrive, never which instant they are.
    engine = sa.create_engine(url, pool_size=10, max_overflow=20, pool_use_lifo=True)

    @event.listens_for(engine, "connect")
    def _utc_session(dbapi_conn: Any, _record: Any) -> None:
        # Set here rather than as a connect option: a URL's own ``options`` stay as they are.
        with dbapi_conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
        dbapi_conn.commit()

    _ping_after_idle(engine, ping_after_idle)

    if engine.dialect.driver == "psycopg":
        from psycopg.pq import Format

        @event.listens_for(engine, "before_cursor_execute")
        def _binary_rows(_c: Any, cursor: Any, _s: Any, _p: Any, context: Any, _m: Any) -> None:
            # SQLAlchemy opens a cursor per statement: the format applies to this one alone.
            if context is not None and context.execution_options.get(BINARY_ROWS):
                cursor.format = Format.BINARY

    return engine


def _ping_after_idle(engine: sa.Engine, idle: float) -> None:
    """Ping a pooled connection at checkout only when it rested ``idle`` seconds or more.

    ``pool_pre_ping`` pings at every checkout: on PostgreSQL a round trip (0.1-0.3 ms measured
    here) before every request's first query. A connection handed back a moment ago, the common
    case under load, is not pinged; one that rested (where a database restart or an idle timeout
    may have closed it) is, and a dead one is replaced before the request sees it. What is left:
    a connection that died during its last second of rest fails the one request that takes it,
    and that failure (a disconnect) makes the pool drop every connection older than it."""

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["rastercat_rested_from"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        rested_from = record.info.get("rastercat_rested_from")
        if getattr(dbapi_conn, "closed", False) or getattr(dbapi_conn, "broken", False):
            raise sa.exc.DisconnectionError("the connection was closed")
        if rested_from is None or time.monotonic() - rested_from < idle:
            return  # new (it just connected), or back from work a moment ago
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # whatever the driver raises for a dead connection
            raise sa.exc.DisconnectionError(str(exc)) from exc
        if not alive:
            raise sa.exc.DisconnectionError("the connection did not answer a ping")


def normalize_postgres_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` (as hosting services print them) use psycopg 3, the
    driver the ``scale`` extra installs, rather than SQLAlchemy's default psycopg2."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Any fixed number: the key of the advisory lock that serializes schema upgrades on PostgreSQL.
_MIGRATION_LOCK = 0x72617374


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (the latest by default; creates it on first start)."""
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)

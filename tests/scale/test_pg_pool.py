"""PostgreSQL connections in the pool: pinged at checkout only after resting (``PING_AFTER_IDLE``),
so a request under load does not pay a round trip before its first query, and a connection that
died while resting (a database restart, an idle timeout) is replaced before anyone uses it."""

from __future__ import annotations

import os

import psycopg
import pytest

from rastercat.errors import StoreError
from rastercat.store.sql.engine import make_engine
from rastercat.store.sql.repo import Repo
from scale.conftest import PgDatabases

PG_ADMIN = os.environ.get("RASTERCAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def backend_pid(repo: Repo) -> int:
    with repo.read() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def terminate(pid: int) -> None:
    """End the server process behind a pooled connection, and wait until it is gone."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)


def test_a_connection_that_died_while_resting_is_replaced_before_a_request_uses_it(
    pg_url: str,
) -> None:
    repo = Repo(make_engine(pg_url, ping_after_idle=0.0))  # every checkout counts as rested
    try:
        first = backend_pid(repo)
        terminate(first)
        second = backend_pid(repo)  # no error: the ping found it dead, the pool connected anew
        assert second != first
        assert backend_pid(repo) == second  # and the new one is kept
    finally:
        repo.engine.dispose()


def test_a_connection_back_a_moment_ago_is_not_pinged_and_the_pool_recovers_after_one_error(
    pg_url: str,
) -> None:
    repo = Repo(make_engine(pg_url, ping_after_idle=3600.0))
    try:
        first = backend_pid(repo)
        terminate(first)
        # Not pinged (it rested less than the hour): the one request that takes it fails, as a
        # store error (503), not a crash...
        with pytest.raises(StoreError, match="catalog database failed"):
            backend_pid(repo)
        # ... and the pool dropped it: the next request gets a live connection.
        assert backend_pid(repo) != first
    finally:
        repo.engine.dispose()


def test_the_pool_hands_back_the_connection_returned_last(pg_url: str) -> None:
    """Last in, first out: with a few connections open, the one just used is used again (a
    first-in-first-out pool would rotate through all of them, each resting long enough to be
    pinged)."""
    engine = make_engine(pg_url)
    try:
        a, b = engine.connect(), engine.connect()
        pa = a.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        pb = b.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        assert pa != pb
        a.close()
        b.close()  # returned last
        for _ in range(3):
            with engine.connect() as c:
                assert c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() == pb
    finally:
        engine.dispose()


def test_a_closed_driver_connection_is_replaced_without_a_ping(pg_url: str) -> None:
    engine = make_engine(pg_url, ping_after_idle=3600.0)
    try:
        with engine.connect() as c:
            first = c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            raw = c.connection.driver_connection
        raw.close()  # closed behind the pool's back
        with engine.connect() as c:
            assert c.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != first
    finally:
        engine.dispose()


def test_sessions_are_in_utc_whatever_the_server_default(pg_databases: PgDatabases) -> None:
    """Every pooled session runs in UTC: timestamptz values arrive with ``timezone.utc`` (psycopg's
    fast path; a named zone goes through zoneinfo), and the instant is the one stored."""
    from datetime import UTC, datetime

    url = pg_databases.create(postgis=False)
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        db = url.rsplit("/", 1)[1]
        admin.execute(f"ALTER DATABASE \"{db}\" SET timezone TO 'Asia/Kolkata'")
    repo = Repo(make_engine(url))
    try:
        with repo.read() as conn:
            assert conn.exec_driver_sql("SHOW TIME ZONE").scalar_one() == "UTC"
            when = conn.exec_driver_sql(
                "SELECT TIMESTAMPTZ '2026-01-02 08:34:05+05:30'"
            ).scalar_one()
        assert when.tzinfo is UTC
        assert when == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    finally:
        repo.engine.dispose()

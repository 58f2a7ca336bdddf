"""Services for the scale tests: a fresh PostgreSQL + PostGIS database per session, an S3 endpoint
(moto's server mode) on 127.0.0.1, and Redis on 127.0.0.1:6379 with a database number of its own.

Each service is skipped (not failed) when unreachable, so the rest of the suite runs on a laptop
without them; CI (.ci/run) starts PostgreSQL and Redis, so there they always run.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PG_ADMIN = os.environ.get("RASTERCAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("RASTERCAT_TEST_REDIS", "redis://127.0.0.1:6379")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgDatabases:
    """Creates throw-away databases (``rastercat_test_<hex>``) with PostGIS; drops them at the end."""

    def __init__(self) -> None:
        import psycopg

        self._psycopg = psycopg
        self.created: list[str] = []

    def _admin(self) -> Any:
        return self._psycopg.connect(PG_ADMIN, autocommit=True)

    def create(self, postgis: bool = True) -> str:
        name = f"rastercat_test_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = PG_ADMIN.rsplit("/", 1)[0]
        if postgis:
            with self._psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        return f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"

    def drop_all(self) -> None:
        with self._admin() as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    if not _reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    pytest.importorskip("psycopg")
    dbs = PgDatabases()
    try:
        yield dbs
    finally:
        dbs.drop_all()


@pytest.fixture(scope="session")
def pg_url(pg_databases: PgDatabases) -> str:
    """One migrated-on-first-use database shared by the session's PostgreSQL tests."""
    return pg_databases.create()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 in server mode, on a free port of 127.0.0.1."""
    pytest.importorskip("moto.server")
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_settings(s3_endpoint: str) -> Any:
    """A bucket of the test's own (and a prefix, to prove keys stay inside it)."""
    from rastercat.config import S3Settings

    return S3Settings(
        bucket=f"rc-{uuid.uuid4().hex[:12]}",
        prefix="catalog/",
        endpoint_url=s3_endpoint,
        region="us-east-1",
        access_key_id="testing",
        secret_access_key="testing",
    )


@pytest.fixture
def s3_store(s3_settings: Any) -> Any:
    from rastercat.store.s3 import S3ObjectStore

    store = S3ObjectStore(s3_settings)
    store.ensure_bucket()
    return store


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis on a database number chosen at random, flushed first (tests never share one)."""
    if not _reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    import random

    import redis

    url = f"{REDIS}/{random.randint(1, 15)}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def tmp_data(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def load_test_module(relpath: str) -> Any:
    """A module of tests/ loaded by path under a name of its own (its fixtures and helpers reused
    without clashing with pytest's own import of it)."""
    import importlib.util
    import sys

    name = "rc_scale_" + relpath.replace("/", "_").removesuffix(".py")
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, Path(__file__).resolve().parent.parent / relpath
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before running it: dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def root_conftest() -> Any:
    """tests/conftest.py as a module: ``LiveServer`` and ``make_settings``."""
    return load_test_module("conftest.py")

"""A PostgreSQL database of a benchmark's own: made for one run and dropped at its end, or kept
between runs under a name."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator

import sqlalchemy as sa


@contextlib.contextmanager
def scratch_database(admin_url: str) -> Iterator[str]:
    """The URL of a new database ``rastercat_bench_<hex>`` on the server of ``admin_url`` (a URL of
    a database the user may create databases from, e.g. ``.../postgres``); dropped on exit, even
    with connections still open."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"rastercat_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextlib.contextmanager
def kept_database(admin_url: str, name: str) -> Iterator[str]:
    """The URL of database ``name`` on the server of ``admin_url``, made if missing and kept on
    exit: a benchmark loads it once and later runs reuse it (as ``--data-dir`` does for SQLite)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
        raise SystemExit(f"not a database name for a kept catalog: {name!r} (a-z, 0-9, _)")
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            found = c.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if found.first() is None:
                c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    yield admin_url.rsplit("/", 1)[0] + "/" + name


def read_into_page_cache(url: str, table: str = "images") -> int:
    """Read ``table`` and its indexes once into the operating system's page cache (``pg_prewarm``'s
    ``read`` mode: not into PostgreSQL's own buffers), as a server's would be after running a
    while; a full scan where the extension is missing. Returns the bytes read (0 for the scan)."""
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as c:
            try:
                c.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
            except sa.exc.DBAPIError:
                c.exec_driver_sql(f"SELECT count(*) FROM {table}")
                return 0
            blocks = c.execute(
                sa.text(
                    "SELECT sum(pg_prewarm(oid, 'read')) FROM pg_class WHERE oid = CAST(:t AS regclass)"
                    " OR oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = CAST(:t AS regclass))"
                ),
                {"t": table},
            ).scalar_one()
            return int(blocks or 0) * 8192
    finally:
        engine.dispose()

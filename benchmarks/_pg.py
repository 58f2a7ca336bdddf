"""A PostgreSQL database of a benchmark's own: made for one run, dropped at its end."""

from __future__ import annotations

import contextlib
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

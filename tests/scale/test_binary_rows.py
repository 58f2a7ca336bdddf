"""Search rows in PostgreSQL's binary format (``BINARY_ROWS``): only the statements that ask for it,
and the same values as the text format, type for type."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy import event

from rastercat.store.read_ports import Area, ImageFilter, ImageOrder
from rastercat.store.sql.engine import BINARY_ROWS, make_engine, migrate
from rastercat.store.sql.repo import Repo, t
from rastercat.store.sql.search import SqlCatalogReads, dicts, image_columns


@pytest.fixture
def repo(pg_databases: Any) -> Iterator[Repo]:
    engine = make_engine(pg_databases.create())
    migrate(engine)
    repo = Repo(engine)
    now = datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=UTC)
    with repo.tx() as conn:
        conn.execute(sa.insert(t.products).values(
            id="ns:p", uid="u1", namespace="ns", attrs={}, owners=["user:ns"], readers=[],
            writers=[], created=now, modified=now))  # fmt: skip
        rows = [
            dict(id="ns:p:a", key="a", acquired=1709251199.123456, minx=-179.999999999,
                 miny=-0.1, maxx=12.345678901234567, maxy=1e-300, storage_key=None,
                 band_names=None, attrs={"acquired": "2024-02-29T23:59:59.123456+00:00",
                                         "big": 2**70, "cloud_fraction": 0.1, "é": "ünï"},
                 readers=[], created=now, modified=now - timedelta(days=400)),
            dict(id="ns:p:b", key="ключ", acquired=0.0, minx=0.0, miny=0.0, maxx=1.0, maxy=1.0,
                 storage_key="ns/p/b.tif", band_names=["red", "nir"], attrs={"n": -1},
                 readers=["group:g"], created=now, modified=now),
            dict(id="ns:p:c", key="c", acquired=None, minx=None, miny=None, maxx=None,
                 maxy=None, storage_key=None, band_names=[], attrs={}, readers=[], created=now,
                 modified=now),
        ]  # fmt: skip
        for row in rows:
            conn.execute(sa.insert(t.images).values(product_uid="u1", product_id="ns:p",
                                                    owners=["user:ns"], writers=[], **row))  # fmt: skip
        conn.exec_driver_sql(
            "UPDATE images SET footprint = ST_MakeEnvelope(minx, miny, maxx, maxy, "
            "4326) WHERE minx IS NOT NULL"
        )  # as the catalog fills it
    try:
        yield repo
    finally:
        repo.close()


def formats(repo: Repo) -> list[tuple[str, int]]:
    """(statement, result format) of each statement the engine runs from now on."""
    seen: list[tuple[str, int]] = []

    @event.listens_for(repo.engine, "before_cursor_execute")
    def record(_c: Any, cursor: Any, statement: str, *_: Any) -> None:
        seen.append((statement, int(cursor.format)))

    return seen


def test_only_the_search_rows_come_in_binary(repo: Repo) -> None:
    seen = formats(repo)
    reads = SqlCatalogReads(repo)
    batches = list(reads.image_batches(ImageFilter(), ImageOrder(), iter([100])))
    assert len(batches[0]) == 3
    repo.one(t.images, id="ns:p:a")
    with repo.read() as conn:  # the same pooled connection: the format did not stay on it
        conn.exec_driver_sql("SELECT 1")
    binary = [s for s, f in seen if f == psycopg.pq.Format.BINARY]
    text = [s for s, f in seen if f == psycopg.pq.Format.TEXT]
    assert len(binary) == 1 and binary[0].lstrip().startswith("SELECT images.pk")
    assert "ORDER BY images.acquired" in binary[0]
    assert len(text) == 2


@pytest.mark.parametrize("where", [
    ImageFilter(),
    ImageFilter(acquired_from=1.0, area=Area((-180.0, -90.0, 180.0, 90.0), 1.0, None)),
])  # fmt: skip
def test_binary_rows_hold_the_values_text_rows_hold(repo: Repo, where: ImageFilter) -> None:
    reads = SqlCatalogReads(repo)
    got = [r for batch in reads.image_batches(where, ImageOrder(), iter([100])) for r in batch]
    stmt = (sa.select(*image_columns()).where(*reads.clauses(where))
            .order_by(t.images.c.acquired, t.images.c.pk))  # fmt: skip
    with repo.read() as conn:
        want = dicts(conn.execute(stmt), True)
    assert got and got == want
    for g, w in zip(got, want, strict=True):
        assert [type(v) for v in g.values()] == [type(v) for v in w.values()]
        assert g["modified"].tzinfo is UTC
    by_key = {r["key"]: r for r in got}
    if "a" in by_key:
        assert by_key["a"]["attrs"]["big"] == 2**70  # beyond 64 bits: decoded exactly
        assert by_key["a"]["acquired"] == 1709251199.123456


def test_sqlite_ignores_the_option(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    migrate(engine)
    with engine.connect() as conn:
        stmt = sa.select(sa.literal(1.5)).execution_options(**{BINARY_ROWS: True})
        assert conn.execute(stmt).scalar_one() == 1.5
    engine.dispose()

"""The same Repo contract on SQLite and on PostgreSQL + PostGIS: rows, errors, the spatial index."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers import migrated_repo
from rastercat.errors import Conflict, InvalidInput
from rastercat.store.sql.engine import normalize_postgres_url
from rastercat.store.sql.repo import Repo, t


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repo]:
    repo = migrated_repo(request, tmp_path)
    yield repo
    repo.engine.dispose()


def now() -> datetime:
    return datetime.now(UTC)


def add_product(repo: Repo) -> dict[str, Any]:
    uid = uuid.uuid4().hex
    values = dict(id=f"p-{uid[:10]}", uid=uid, namespace="ns", attrs={"title": "T"},
                  owners=["user:a"], readers=[], writers=[], created=now(), modified=now())  # fmt: skip
    with repo.tx() as conn:
        repo.insert(t.products, values, conn)
    return values


def add_image(repo: Repo, product: dict[str, Any], key: str, bbox: tuple | None,
              acquired: float | None) -> int:  # fmt: skip
    minx, miny, maxx, maxy = bbox if bbox else (None,) * 4
    with repo.tx() as conn:
        pk = repo.insert(
            t.images,
            dict(id=f"{product['id']}:{key}", product_uid=product["uid"], product_id=product["id"],
                 key=key, attrs={"k": key}, owners=[], readers=[], writers=[], acquired=acquired,
                 minx=minx, miny=miny, maxx=maxx, maxy=maxy, created=now(), modified=now()),
            conn,
        )  # fmt: skip
        repo.index_image(conn, pk, bbox, acquired)
    return pk


def found(repo: Repo, product: dict[str, Any], bbox: tuple, lo: float | None = None,
          hi: float | None = None) -> set[str]:  # fmt: skip
    clauses = [t.images.c.product_uid == product["uid"], repo.spatial_clause(bbox, lo, hi)]
    if lo is not None:
        clauses.append(t.images.c.acquired >= lo)
    if hi is not None:
        clauses.append(t.images.c.acquired <= hi)
    return {r["key"] for r in repo.all(t.images, *clauses)}


def test_rows_round_trip_with_json_and_times(repo: Repo) -> None:
    p = add_product(repo)
    row = repo.one(t.products, uid=p["uid"])
    assert row is not None
    assert row["attrs"] == {"title": "T"} and row["owners"] == ["user:a"]
    assert row["created"].replace(tzinfo=row["created"].tzinfo or UTC) == p["created"]
    assert repo.count(t.products, t.products.c.uid == p["uid"]) == 1


def test_duplicate_id_is_a_conflict(repo: Repo) -> None:
    p = add_product(repo)
    with pytest.raises(Conflict), repo.tx() as conn:
        repo.insert(t.products, {**p, "uid": uuid.uuid4().hex}, conn)


def test_failed_transaction_leaves_nothing(repo: Repo) -> None:
    p = add_product(repo)
    with pytest.raises(Conflict), repo.tx() as conn:
        add_uid = uuid.uuid4().hex
        repo.insert(t.products, {**p, "id": f"q-{add_uid[:8]}", "uid": add_uid}, conn)
        repo.insert(t.products, {**p, "uid": uuid.uuid4().hex}, conn)  # duplicate id
    assert repo.one(t.products, uid=add_uid) is None


def test_value_too_long_is_invalid_input_not_a_crash(repo: Repo) -> None:
    if repo.dialect == "sqlite":
        pytest.skip("SQLite does not enforce VARCHAR lengths")
    p = add_product(repo)
    with pytest.raises(InvalidInput), repo.tx() as conn:
        repo.insert(t.products, {**p, "id": "x" * 401, "uid": uuid.uuid4().hex}, conn)


def test_spatial_clause_finds_overlapping_bboxes_only(repo: Repo) -> None:
    p = add_product(repo)
    add_image(repo, p, "west", (0, 0, 1, 1), 100.0)
    add_image(repo, p, "east", (10, 0, 11, 1), 200.0)
    add_image(repo, p, "big", (-5, -5, 20, 20), 300.0)
    add_image(repo, p, "nowhere", None, 400.0)
    assert found(repo, p, (0.5, 0.5, 0.6, 0.6)) == {"west", "big"}
    assert found(repo, p, (10.5, 0.5, 10.6, 0.6)) == {"east", "big"}
    assert found(repo, p, (1, 1, 2, 2)) == {"west", "big"}  # touching edges count
    assert found(repo, p, (50, 50, 60, 60)) == set()
    assert found(repo, p, (-10, -10, 30, 30), lo=150.0, hi=250.0) == {"east"}
    assert found(repo, p, (-10, -10, 30, 30), lo=250.0) == {"big"}


def test_reindexing_moves_and_deleting_unindexes(repo: Repo) -> None:
    p = add_product(repo)
    pk = add_image(repo, p, "moving", (0, 0, 1, 1), 10.0)
    with repo.tx() as conn:
        repo.update(t.images, pk, {"minx": 30, "miny": 30, "maxx": 31, "maxy": 31}, conn)
        repo.index_image(conn, pk, (30, 30, 31, 31), 10.0)
    assert found(repo, p, (0, 0, 1, 1)) == set()
    assert found(repo, p, (30.5, 30.5, 30.6, 30.6)) == {"moving"}
    with repo.tx() as conn:
        repo.index_image(conn, pk, None, 10.0)
    assert found(repo, p, (30.5, 30.5, 30.6, 30.6)) == set()
    with repo.tx() as conn:
        repo.unindex_image(conn, pk)
        repo.delete(t.images, pk, conn)
    assert repo.count(t.images, t.images.c.product_uid == p["uid"]) == 0


def test_postgis_search_uses_the_gist_index(repo: Repo) -> None:
    if repo.dialect != "postgresql":
        pytest.skip("PostGIS only")
    with repo.tx() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        stmt = sa.select(t.images.c.pk).where(repo.spatial_clause((0, 0, 1, 1), None, None))
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "ix_images_footprint" in plan, plan


def test_claims_skip_rows_locked_by_another_transaction(repo: Repo) -> None:
    """What lets several workers claim jobs at once on PostgreSQL without waiting on each other."""
    if repo.dialect != "postgresql":
        pytest.skip("row locks are a PostgreSQL feature (SQLite serializes writers)")
    p = add_product(repo)
    uids = []
    with repo.tx() as conn:
        for i in range(2):
            uid = uuid.uuid4().hex
            uids.append(uid)
            repo.insert(t.uploads,
                        dict(uid=uid, product_uid=p["uid"], product_id=p["id"], upload_id=f"u{i}",
                             image_key=f"k{i}", owner_pk=1, status="PENDING", attempts=0, params={},
                             log="", created=now(), updated=now()), conn)  # fmt: skip
    pick = (
        sa.select(t.uploads.c.uid)
        .where(t.uploads.c.uid.in_(uids))
        .order_by(t.uploads.c.pk)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    with repo.tx() as first, repo.tx() as second:
        a = first.execute(pick).scalar_one()
        b = second.execute(pick).scalar_one()
    assert {a, b} == set(uids)


@pytest.mark.parametrize(
    "url, expected",
    [
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql://u@h:5/db", "postgresql+psycopg://u@h:5/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_postgres_urls_use_psycopg3(url: str, expected: str) -> None:
    assert normalize_postgres_url(url) == expected


def test_both_search_plans_select_the_same_rows_in_date_order(repo: Repo) -> None:
    import random

    product = add_product(repo)
    rng = random.Random(3)
    for i in range(80):
        x, y, size = rng.uniform(-179, 170), rng.uniform(-85, 80), rng.uniform(0.1, 9)
        add_image(repo, product, f"k{i}", (x, y, x + size, y + size), 1000.0 * (i % 40))
    for bbox, lo, hi in [((-180, -90, 180, 90), 5000.0, 12000.0), ((-180, -90, 180, 90), None, None),
                         ((-30, -20, 60, 45), 0.0, 30000.0), ((0, 0, 40, 40), None, 20000.0)]:  # fmt: skip
        keys = []
        for spatial_index in (True, False):
            clauses = [t.images.c.product_uid == product["uid"],
                       repo.spatial_clause(bbox, lo, hi, spatial_index=spatial_index)]  # fmt: skip
            if lo is not None:
                clauses.append(t.images.c.acquired >= lo)
            if hi is not None:
                clauses.append(t.images.c.acquired <= hi)
            order = [t.images.c.acquired, t.images.c.pk]
            keys.append([r["key"] for r in repo.all(t.images, *clauses, order_by=order)])
        assert keys[0] == keys[1]
        assert keys[0]


def test_the_date_index_is_chosen_for_large_areas_over_short_windows(repo: Repo) -> None:
    import time

    product = add_product(repo)
    day, t0 = 86400.0, 1.5e9
    with repo.tx() as conn:
        conn.execute(
            sa.insert(t.images).values(
                pk=1_000_001, id=f"{product['id']}:x", product_uid=product["uid"],
                product_id=product["id"], key="x", attrs={}, owners=[], readers=[],
                writers=[], acquired=t0, created=now(), modified=now())
        )  # fmt: skip
    with repo.read() as conn:
        # The estimate's inputs come from the catalog: the largest pk, the ends of the date index.
        n, first, last = Repo(repo.engine)._date_stats(conn)
        assert n >= 1_000_001 and first <= t0 <= last
        # A catalog of about 1M images over ten years (the tables of this session hold others).
        repo._stats = (time.monotonic(), (1_000_000, t0, t0 + 3650 * day))
        world = (-180.0, -90.0, 180.0, 90.0)
        week = (t0 + 100 * day, t0 + 107 * day)
        assert repo.date_index_pays(conn, world, *week, page=101)
        assert repo.date_index_pays(conn, world, None, None, page=101)
        assert repo.date_index_pays(conn, (-90.0, -45.0, 90.0, 45.0), t0, t0 + 365 * day, page=101)
        # Reading every match: the spatial index reads no more rows than the date index.
        assert not repo.date_index_pays(conn, world, *week, page=float("inf"))
        assert not repo.date_index_pays(conn, (0.0, 0.0, 20.0, 20.0), t0, t0 + 30 * day, page=101)
        assert not repo.date_index_pays(conn, (0.0, 0.0, 5.0, 5.0), t0, t0 + 540 * day, page=101)
        assert not repo.date_index_pays(conn, (0.0, 0.0, 0.2, 0.2), None, None, page=101)
        repo.search_plan = "spatial"
        assert not repo.date_index_pays(conn, world, *week, page=101)
        repo.search_plan = "date"
        assert repo.date_index_pays(conn, (0.0, 0.0, 0.2, 0.2), None, None, page=101)


def test_a_snapshot_is_one_read_transaction(repo: Repo) -> None:
    """Every read inside ``snapshot()`` shares one connection and sees one state of the catalog:
    a product committed meanwhile by another connection shows only after the snapshot ends."""
    first = add_product(repo)
    checkouts: list[Any] = []

    def checkout(*args: Any) -> None:
        checkouts.append(args)

    sa.event.listen(repo.engine, "checkout", checkout)
    try:
        with repo.snapshot():
            assert repo.one(t.products, id=first["id"]) is not None
            with repo.read() as a, repo.read() as b:
                assert a is b
            second = add_product(repo)  # a write transaction of its own, committed
            assert repo.one(t.products, id=second["id"]) is None
            with repo.snapshot():  # nested: still the outer one
                assert repo.one(t.products, id=second["id"]) is None
        reads_inside = len(checkouts)
        assert repo.one(t.products, id=second["id"]) is not None
    finally:
        sa.event.remove(repo.engine, "checkout", checkout)
    # One checkout for the snapshot, one for the write; then one for the read after it.
    assert reads_inside == 2
    assert len(checkouts) == 3


def test_a_snapshot_ends_with_its_block_when_the_block_raises(repo: Repo) -> None:
    product = add_product(repo)
    with pytest.raises(KeyError), repo.snapshot():
        repo.one(t.products, id=product["id"])
        raise KeyError("boom")
    later = add_product(repo)
    assert repo.one(t.products, id=later["id"]) is not None  # not the ended snapshot's view

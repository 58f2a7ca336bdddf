"""Date-ordered searches run statements built once per shape of filter, with each search's values
bound (``search_statements``): checked against a reference in Python over the same rows, for
random filters, both plans, both directions and keyset positions, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from rastercat.store.read_ports import Area, ImageFilter, ImageOrder, Position
from rastercat.store.sql import search_statements
from rastercat.store.sql.engine import make_engine, migrate
from rastercat.store.sql.repo import Repo, t
from rastercat.store.sql.search import SqlCatalogReads

N = 240
T0 = 1_600_000_000.0


@pytest.fixture(params=["sqlite", "postgresql"], scope="module")
def repo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Repo]:
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_databases").create()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('statements') / 'catalog.db'}"
    engine = make_engine(url)
    migrate(engine)
    repo = Repo(engine)
    rng = random.Random(5)
    now = datetime.now(UTC)
    with repo.tx() as conn:
        for i, uid in enumerate(("u1", "u2", "u3")):
            conn.execute(sa.insert(t.products).values(
                id=f"ns:p{i}", uid=uid, namespace="ns", attrs={}, owners=["user:ns"], readers=[],
                writers=[], created=now, modified=now))  # fmt: skip
        for i in range(N):
            lon, lat, size = rng.uniform(-180, 175), rng.uniform(-90, 85), rng.uniform(0.01, 5)
            acquired = None if i % 17 == 0 else T0 + rng.randint(0, 40) * 86400.0  # ties, NULLs
            bbox = (lon, lat, lon + size, lat + size)
            uid = ("u1", "u2", "u3")[i % 3]
            pk = conn.execute(sa.insert(t.images).values(
                id=f"ns:p{i % 3}:i{i:03d}", product_uid=uid, product_id=f"ns:p{i % 3}",
                key=f"i{i:03d}", attrs={"n": i}, owners=["user:ns"], readers=[], writers=[],
                acquired=acquired, minx=bbox[0], miny=bbox[1], maxx=bbox[2], maxy=bbox[3],
                created=now, modified=now)).inserted_primary_key[0]  # fmt: skip
            repo.index_image(conn, pk, bbox, acquired)
    with repo.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(t.images))]
    repo.reference_rows = rows  # type: ignore[attr-defined]
    try:
        yield repo
    finally:
        repo.close()


def reference(rows: list[dict[str, Any]], where: ImageFilter, desc: bool, dialect: str,
              after: Position | None, limit: int) -> list[str]:  # fmt: skip
    """The ids a search should return, worked out in Python."""

    def keep(r: dict[str, Any]) -> bool:
        if where.product_uids is not None and r["product_uid"] not in where.product_uids:
            return False
        if where.acquired_from is not None and (
            r["acquired"] is None or r["acquired"] < where.acquired_from
        ):
            return False
        if where.acquired_to is not None and (
            r["acquired"] is None or r["acquired"] > where.acquired_to
        ):
            return False
        if where.area is not None:
            minx, miny, maxx, maxy = where.area.bbox
            if not (
                r["minx"] <= maxx and r["maxx"] >= minx and r["miny"] <= maxy and r["maxy"] >= miny
            ):
                return False
        if where.ids is not None and r["id"] not in where.ids:
            return False
        if where.id_after is not None and not r["id"] > where.id_after:
            return False
        return where.id_before is None or r["id"] < where.id_before

    # NULL dates sort first on SQLite, last on PostgreSQL (ascending; the reverse descending).
    nulls_low = dialect == "sqlite"

    def sort_key(r: dict[str, Any]) -> tuple[Any, ...]:
        a = r["acquired"]
        low = (0, 0.0) if nulls_low else (2, 0.0)
        return ((1, a) if a is not None else low, r["pk"])

    ordered = sorted((r for r in rows if keep(r)), key=sort_key, reverse=desc)
    if after is not None:
        position = sort_key({"acquired": after[0], "pk": after[1]})
        ordered = [
            r for r in ordered if (sort_key(r) < position if desc else sort_key(r) > position)
        ]
    return [r["id"] for r in ordered[:limit]]


def random_filter(rng: random.Random, rows: list[dict[str, Any]]) -> ImageFilter:
    ids = sorted(r["id"] for r in rows)
    area = None
    if rng.random() < 0.7:
        lon, lat = rng.uniform(-180, 100), rng.uniform(-90, 40)
        w = rng.choice([2.0, 30.0, 80.0, 360.0])
        bbox = (-180.0, -90.0, 180.0, 90.0) if w == 360.0 else (lon, lat, lon + w, lat + w / 2)
        area = bbox
    lo = T0 + rng.randint(0, 20) * 86400.0 if rng.random() < 0.6 else None
    hi = (lo or T0) + rng.randint(0, 25) * 86400.0 if rng.random() < 0.6 else None
    return ImageFilter(
        product_uids=tuple(rng.sample(["u1", "u2", "u3", "u9"], rng.randint(0, 3)))
        if rng.random() < 0.5 else None,
        acquired_from=lo,
        acquired_to=hi,
        area=None if area is None else Area(area, lo, hi),
        ids=tuple(rng.sample(ids, rng.randint(0, 60))) if rng.random() < 0.25 else None,
        id_after=rng.choice(ids) if rng.random() < 0.2 else None,
        id_before=rng.choice(ids) if rng.random() < 0.2 else None,
    )  # fmt: skip


@pytest.mark.parametrize("plan", ["auto", "spatial", "date"])
def test_prebuilt_searches_return_what_the_rows_say(repo: Repo, plan: str) -> None:
    reads = SqlCatalogReads(repo)
    rows = repo.reference_rows  # type: ignore[attr-defined]
    rng = random.Random(plan)
    repo.search_plan = plan  # type: ignore[assignment]
    try:
        for _ in range(120):
            where = random_filter(rng, rows)
            desc = rng.random() < 0.4
            limit = rng.choice([1, 7, 50, 500])
            want = reference(rows, where, desc, repo.dialect, None, 10**6)
            # A keyset position: after some row of the answer, or after a row with no date.
            after: Position | None = None
            if want and rng.random() < 0.5:
                chosen = rng.choice(want)
                pivot = next(r for r in rows if r["id"] == chosen)
                after = (pivot["acquired"], pivot["pk"])
            expected = reference(rows, where, desc, repo.dialect, after, 10**6)
            got = [r["id"] for batch in reads.image_batches(
                where, ImageOrder(desc=desc), iter([limit, limit * 4, 10**6]), after=after)
                for r in batch]  # fmt: skip
            assert got == expected, (where, desc, after, limit)
    finally:
        repo.search_plan = "auto"


def test_one_statement_serves_searches_of_one_shape_with_their_own_values(repo: Repo) -> None:
    reads = SqlCatalogReads(repo)
    rows = repo.reference_rows  # type: ignore[attr-defined]
    windows = [(T0, T0 + 5 * 86400.0), (T0 + 20 * 86400.0, T0 + 30 * 86400.0)]
    answers = []
    before = search_statements.statement.cache_info()
    for lo, hi in windows:
        world = Area((-180.0, -90.0, 180.0, 90.0), lo, hi)
        where = ImageFilter(acquired_from=lo, acquired_to=hi, area=world)
        got = [r["id"] for b in reads.image_batches(where, ImageOrder(), iter([1000])) for r in b]
        assert got == reference(rows, where, False, repo.dialect, None, 1000)
        answers.append(got)
    after = search_statements.statement.cache_info()
    assert after.misses - before.misses <= 1  # built at most once...
    assert after.hits - before.hits >= 1  # ...and used again by the second search
    assert answers[0] and answers[1] and set(answers[0]).isdisjoint(answers[1])


def test_a_property_expression_is_part_of_its_statement(repo: Repo) -> None:
    """One statement per distinct expression (its values are in its SQL): two expressions of
    the same shape give each their own rows."""
    reads = SqlCatalogReads(repo)
    rows = repo.reference_rows  # type: ignore[attr-defined]
    for bound in (50, 120, 50):
        where = ImageFilter(attrs={"and": [{"range": {"n": {"lt": bound}}}]})
        got = [r["id"] for b in reads.image_batches(where, ImageOrder(), iter([1000])) for r in b]
        want = reference(rows, ImageFilter(), False, repo.dialect, None, 1000)
        assert got == [i for i in want if int(i[-3:]) < bound]


def test_a_cql2_filter_is_built_per_search(repo: Repo) -> None:
    reads = SqlCatalogReads(repo)
    rows = repo.reference_rows  # type: ignore[attr-defined]
    clause = t.images.c.key < "i050"
    where = ImageFilter(compiled=(clause,))
    before = search_statements.statement.cache_info()
    got = [r["id"] for b in reads.image_batches(where, ImageOrder(), iter([1000])) for r in b]
    assert set(got) == {r["id"] for r in rows if r["key"] < "i050"}
    after = search_statements.statement.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)


def short_window_filter(rng: random.Random, cql2: bool) -> ImageFilter:
    lon, lat = rng.uniform(-180, 100), rng.uniform(-90, 40)
    w = rng.choice([2.0, 30.0, 80.0])
    lo = T0 + rng.randint(0, 30) * 86400.0 + rng.choice([0.0, 0.5, -0.5])
    hi = lo + rng.choice([0.0, 1.0, 3.0, 20.0, 60.0]) * 86400.0
    bbox = (lon, lat, lon + w, lat + w / 2)
    compiled = (t.images.c.key < "i200",) if cql2 else ()
    return ImageFilter(acquired_from=lo, acquired_to=hi, area=Area(bbox, lo, hi), compiled=compiled)


@pytest.mark.parametrize("cql2", [False, True], ids=["built once", "built per search"])
def test_short_windows_through_the_months_index_find_the_same_rows(repo: Repo, cql2: bool) -> None:
    """PostgreSQL: an area over a window of two months or less goes through migration 0009's
    index (months, then envelope); the rows are the same as through (footprint, acquired), and
    as the reference's. SQLite has no such index: the same searches, the same rows."""
    reads = SqlCatalogReads(repo)
    rows = repo.reference_rows  # type: ignore[attr-defined]
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(repo.engine, "before_cursor_execute", record)
    rng = random.Random(f"months {cql2}")
    repo.search_plan = "spatial"  # type: ignore[assignment]
    try:
        for _ in range(60):
            where = short_window_filter(rng, cql2)
            desc = rng.random() < 0.4
            got = {}
            for months in (True, False):
                repo.month_index = months
                statements.clear()
                got[months] = [r["id"] for b in reads.image_batches(
                    where, ImageOrder(desc=desc), iter([7, 10**6])) for r in b]  # fmt: skip
                through = any("ST_Envelope(images.footprint)" in s for s in statements)
                assert through == (months and repo.dialect == "postgresql"), statements
            want = reference(rows, where, desc, repo.dialect, None, 10**6)
            if cql2:
                want = [i for i in want if i.rsplit(":", 1)[1] < "i200"]
            assert got[True] == got[False] == want, where
    finally:
        repo.search_plan = "auto"
        repo.month_index = True
        sa.event.remove(repo.engine, "before_cursor_execute", record)


def test_months_pay_for_short_windows_only() -> None:
    from rastercat.store.sql.areas import months_pay

    day = 86400.0
    small, large = (0.0, 0.0, 0.2, 0.2), (0.0, 0.0, 20.0, 20.0)
    assert months_pay("postgresql", small, 0.0, 30 * day)
    assert months_pay("postgresql", large, 0.0, 90 * day)
    assert not months_pay("postgresql", small, 0.0, 90 * day)
    assert not months_pay("postgresql", large, 0.0, 180 * day)
    assert not months_pay("postgresql", large, None, 30 * day)
    assert not months_pay("postgresql", large, 0.0, None)
    assert not months_pay("sqlite", large, 0.0, 30 * day)


def test_rows_at_the_months_edges_are_found(pg_databases: Any) -> None:
    """Images acquired on, just before and just after a month's boundary of the index, searched
    by windows that start or end exactly there: the month bounds come from PostgreSQL's own
    arithmetic on the window, so none is missed."""
    from rastercat.store.sql.areas import MONTH

    engine = make_engine(pg_databases.create())
    migrate(engine)
    repo = Repo(engine)
    now = datetime.now(UTC)
    edge = 660 * MONTH  # a boundary of the index's months (2024-12)
    times = [edge - 1e-6, edge, edge + 1e-6, edge - MONTH, edge + MONTH - 1e-3, edge + MONTH]
    try:
        with repo.tx() as conn:
            conn.execute(sa.insert(t.products).values(
                id="ns:p", uid="u", namespace="ns", attrs={}, owners=["user:ns"], readers=[],
                writers=[], created=now, modified=now))  # fmt: skip
            for i, when in enumerate(times):
                pk = conn.execute(sa.insert(t.images).values(
                    id=f"ns:p:i{i}", product_uid="u", product_id="ns:p", key=f"i{i}", attrs={},
                    owners=["user:ns"], readers=[], writers=[], acquired=when, minx=0.0,
                    miny=0.0, maxx=1.0, maxy=1.0, created=now, modified=now,
                )).inserted_primary_key[0]  # fmt: skip
                repo.index_image(conn, pk, (0.0, 0.0, 1.0, 1.0), when)
        reads = SqlCatalogReads(repo)
        repo.search_plan = "spatial"  # type: ignore[assignment]
        for lo in times:
            for hi in times:
                if hi < lo:
                    continue
                where = ImageFilter(acquired_from=lo, acquired_to=hi,
                                    area=Area((0.5, 0.5, 2.0, 2.0), lo, hi))  # fmt: skip
                assert repo.months_pay((0.5, 0.5, 2.0, 2.0), lo, hi)
                got = [r["key"] for b in reads.image_batches(where, ImageOrder(), iter([100]))
                       for r in b]  # fmt: skip
                want = [f"i{i}" for i, w in sorted(enumerate(times), key=lambda x: x[1])
                        if lo <= w <= hi]  # fmt: skip
                assert got == want, (lo, hi)
    finally:
        repo.close()

"""Searches keep the products' ACLs between requests, and never past a change.

The database counts changes to ``products`` (triggers, migration 0007); a process reads the ACLs
again whenever the count moved. Checked as two API replicas would meet it: one process caches,
the other (or plain SQL) changes a product's readers, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rastercat.config import IngestSettings, Settings
from rastercat.store.sql.repo import t, utcnow
from rastercat.wiring import build


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_databases").create()
    return Settings(data_dir=tmp_path / "data", database_url=url,
                    ingest=IngestSettings(workers=1), start_workers=False)  # fmt: skip


@pytest.fixture
def replicas(settings: Settings) -> Iterator[tuple[Any, Any]]:
    """Two sets of services on one catalog, as two API processes have."""
    a, b = build(settings, role="api"), build(settings, role="api")
    try:
        yield a, b
    finally:
        a.close()
        b.close()


def version(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(t.product_epoch.c.version)).scalar_one())


def test_every_change_to_products_moves_the_version(replicas: tuple[Any, Any]) -> None:
    a, _ = replicas
    engine = a.engine
    owner = a.users.authenticate(a.users.mint_token(a.users.ensure_user("olive")["name"]))
    seen = [version(engine)]
    pid = a.catalog.create_product(owner, {"id": "p", "title": "T", "description": "D"})["id"]
    seen.append(version(engine))
    with engine.begin() as conn:  # plain SQL, as an operator might: the triggers still count it
        conn.execute(sa.update(t.products).where(t.products.c.id == pid).values(readers=["x"]))
    seen.append(version(engine))
    add_image(a, pid, "i1", readers=[])  # images are not products: no change
    seen.append(version(engine))
    with engine.begin() as conn:
        conn.execute(sa.delete(t.images))
        conn.execute(sa.delete(t.products).where(t.products.c.id == pid))
    seen.append(version(engine))
    assert seen[0] < seen[1] < seen[2] == seen[3] < seen[4]


def add_image(services: Any, pid: str, key: str, readers: list[str]) -> None:
    product = services.repo.one(t.products, id=pid)
    now = utcnow()
    with services.engine.begin() as conn:
        conn.execute(sa.insert(t.images).values(
            id=f"{pid}:{key}", product_uid=product["uid"], product_id=pid, key=key,
            attrs={"acquired": "2020-01-01T00:00:00+00:00"}, owners=product["owners"],
            readers=readers, writers=[], acquired=1577836800.0, created=now, modified=now,
        ))  # fmt: skip


def test_a_share_and_its_revocation_reach_the_other_replica_at_once(
    replicas: tuple[Any, Any],
) -> None:
    a, b = replicas
    owner = b.users.authenticate(b.users.mint_token(b.users.ensure_user("olive")["name"]))
    rita = a.users.authenticate(a.users.mint_token(a.users.ensure_user("rita")["name"]))
    pid = b.catalog.create_product(owner, {"id": "p", "title": "T", "description": "D"})["id"]
    # The image itself is shared with rita; its product is not (yet): it stays out of her results.
    add_image(b, pid, "i1", readers=[rita.user_principal])

    def found() -> dict[str, list[str]]:
        out = {}
        for label, body in (("all", {}), ("asked", {"products": [pid]})):
            with a.repo.snapshot():
                rows, _ = a.metadata.search(rita, body)
            out[label] = [r["key"] for r in rows]
        out["listed"] = [r["id"] for r in a.metadata.readable_products(rita)]
        out["uids"] = sorted(a.metadata.readable_uids(rita))
        return out

    uid = b.repo.one(t.products, id=pid)["uid"]
    nothing: dict[str, list[str]] = {"all": [], "asked": [], "listed": [], "uids": []}
    assert found() == nothing  # replica a now holds the ACLs
    with b.engine.begin() as conn:
        conn.execute(
            sa.update(t.products).where(t.products.c.id == pid)
            .values(readers=[rita.user_principal])
        )  # fmt: skip
    assert found() == {"all": ["i1"], "asked": ["i1"], "listed": [pid], "uids": [uid]}
    with b.engine.begin() as conn:  # revoked on b: a must not keep showing it
        conn.execute(sa.update(t.products).where(t.products.c.id == pid).values(readers=[]))
    assert found() == nothing


def test_searches_read_no_product_rows_while_no_product_changes(
    replicas: tuple[Any, Any],
) -> None:
    a, b = replicas
    owner = a.users.authenticate(a.users.mint_token(a.users.ensure_user("olive")["name"]))
    pid = a.catalog.create_product(owner, {"id": "p", "title": "T", "description": "D"})["id"]
    add_image(a, pid, "i1", readers=[])
    statements: list[str] = []

    @sa.event.listens_for(a.engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def product_reads() -> int:
        statements.clear()
        with a.repo.snapshot():
            rows, _ = a.metadata.search(owner, {})
        assert [r["key"] for r in rows] == ["i1"]
        return sum("FROM products" in s for s in statements)

    assert product_reads() == 1  # the first search of this process reads the ACLs
    assert product_reads() == 0
    assert product_reads() == 0
    b.catalog.create_product(owner, {"id": "q", "title": "T", "description": "D"})
    assert product_reads() == 1  # another replica added a product: read again, once
    assert product_reads() == 0


def test_a_request_reads_the_products_version_with_its_user(replicas: tuple[Any, Any]) -> None:
    """As the API serves a search (one snapshot: authenticate, then search), the products'
    version comes with the user's row: no statement of its own, and still the version of that
    snapshot (a share made on another replica just before is in the very next request)."""
    a, b = replicas
    olive = b.users.authenticate(b.users.mint_token(b.users.ensure_user("olive")["name"]))
    token = a.users.mint_token(a.users.ensure_user("rita")["name"])
    rita = a.users.authenticate(token)
    pid = b.catalog.create_product(olive, {"id": "p", "title": "T", "description": "D"})["id"]
    add_image(b, pid, "i1", readers=[rita.user_principal])
    statements: list[str] = []

    @sa.event.listens_for(a.engine, "before_cursor_execute")
    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def request() -> list[str]:
        statements.clear()
        with a.repo.snapshot():
            rows, _ = a.metadata.search(a.users.authenticate(token), {})
        epoch_reads = [s for s in statements if "product_epoch" in s]
        assert len(epoch_reads) == 1 and "FROM users" in epoch_reads[0], statements
        return [r["key"] for r in rows]

    assert request() == []
    with b.engine.begin() as conn:
        conn.execute(
            sa.update(t.products).where(t.products.c.id == pid)
            .values(readers=[rita.user_principal])
        )  # fmt: skip
    assert request() == ["i1"]
    with b.engine.begin() as conn:
        conn.execute(sa.update(t.products).where(t.products.c.id == pid).values(readers=[]))
    assert request() == []
    # Outside a snapshot nothing is noted: a search reads the version itself.
    statements.clear()
    a.metadata.search(a.users.authenticate(token), {})
    assert sum("product_epoch" in s and "FROM users" not in s for s in statements) == 1


def test_only_the_snapshots_own_reads_note_facts(replicas: tuple[Any, Any]) -> None:
    """A user read over another connection (a write transaction) inside a snapshot notes nothing:
    its version may be newer than the snapshot's."""
    a, _ = replicas
    sub = a.users.authenticate(a.users.mint_token(a.users.ensure_user("olive")["name"])).sub
    with a.repo.snapshot():
        with a.repo.read() as shared:
            with a.repo.tx() as other:
                a.users.users.with_groups(other, sub)
            assert a.repo.snapshot_facts(shared) == {}
            assert a.repo.snapshot_facts(other) is None
            a.users.users.with_groups(shared, sub)
            with a.engine.connect() as conn:
                users = conn.execute(sa.select(t.user_epoch.c.version)).scalar_one()
            assert a.repo.snapshot_facts(shared) == {
                "product_version": version(a.engine),
                "user_version": users,
            }
    assert a.repo.snapshot_facts(shared) is None

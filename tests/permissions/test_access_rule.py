# ruff: noqa: F811  (fixtures imported from tests/scale/conftest.py are named as arguments)
"""The read rule's two forms agree: :mod:`rastercat.catalog.access` (Python) and
:func:`rastercat.store.sql.access.readable_clause` (SQL) decide the same for every principal on
every product and image, with ACLs on the product, on the image, or both, on SQLite and on
PostgreSQL/PostGIS."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers import migrated_repo
from rastercat.catalog.access import can_read, can_read_within
from rastercat.catalog.principal import Principal
from rastercat.store.sql.access import readable_clause
from rastercat.store.sql.repo import Repo, t
from scale.conftest import pg_databases, pg_url  # noqa: F401

PRINCIPALS = {
    "owner": Principal(1, "alice", "alice", "alice"),
    "reader": Principal(2, "rita", "rita", "rita"),
    "writer": Principal(3, "will", "will", "will"),
    "group member": Principal(4, "gus", "gus", "gus", groups=frozenset({"team", "misc"})),
    "org member": Principal(5, "olga", "olga", "olga", org="acme"),
    "group and org": Principal(6, "gina", "gina", "gina", frozenset({"team"}), "acme"),
    "unrelated": Principal(7, "zed", "zed", "zed", frozenset({"others"}), "other-org"),
    "admin": Principal(8, "root", "root", "root", is_admin=True),
}

ENTRIES = [
    [],
    ["user:alice"],
    ["user:rita"],
    ["user:will", "group:nobody"],
    ["group:team"],
    ["org:acme"],
    ["user:zed'); --", "group:te%", "org:acm_"],  # quoting and LIKE characters mean nothing
]
"""What one ACL list may hold: nobody, one user, a group, an org, look-alikes."""


def _acls(step: int) -> list[dict[str, list[str]]]:
    combos = itertools.product(ENTRIES, repeat=3)
    return [
        {"owners": o, "readers": r, "writers": w}
        for i, (o, r, w) in enumerate(combos)
        if i % step == 0
    ]


PRODUCT_ACLS = [
    {"owners": ["user:alice"], "readers": [], "writers": []},  # private
    {"owners": ["user:alice"], "readers": ["user:rita"], "writers": ["user:will"]},
    {"owners": ["user:alice"], "readers": ["group:team"], "writers": []},
    {"owners": ["user:alice"], "readers": ["org:acme"], "writers": ["group:team"]},
    {"owners": ["user:alice", "user:zed"], "readers": [], "writers": []},
]


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repo]:
    repo = migrated_repo(request, tmp_path)
    with repo.tx() as conn:  # the session's PostgreSQL database is shared: start empty
        conn.execute(sa.delete(t.images))
        conn.execute(sa.delete(t.products))
    yield repo
    repo.engine.dispose()


def _seed(repo: Repo) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    now = datetime.now(UTC)
    products, images = [], []
    with repo.tx() as conn:
        for i, pacl in enumerate(PRODUCT_ACLS):
            product = {"id": f"ns:p{i}", "uid": f"uid{i}", "namespace": "ns", "attrs": {},
                       "created": now, "modified": now, **pacl}  # fmt: skip
            repo.insert(t.products, product, conn)
            products.append(product)
            # Image-level ACLs: the product's own (inherited), and many others.
            for j, iacl in enumerate([pacl, *_acls(step=7)]):
                image = {"id": f"ns:p{i}:{j}", "key": str(j), "product_uid": product["uid"],
                         "product_id": product["id"], "attrs": {}, "created": now,
                         "modified": now, **iacl}  # fmt: skip
                repo.insert(t.images, image, conn)
                images.append(image)
    return products, images


def _sql_readable(repo: Repo, p: Principal, table: sa.Table) -> set[str]:
    clause = readable_clause(p.principals, p.is_admin, table, repo.dialect)
    with repo.read() as conn:
        return set(conn.execute(sa.select(table.c.id).where(clause)).scalars())


def _sql_readable_within(repo: Repo, p: Principal) -> set[str]:
    """Images readable together with their product (both clauses in one statement)."""
    i, pr = t.images, t.products
    stmt = (
        sa.select(i.c.id)
        .select_from(i.join(pr, i.c.product_uid == pr.c.uid))
        .where(
            readable_clause(p.principals, p.is_admin, i, repo.dialect),
            readable_clause(p.principals, p.is_admin, pr, repo.dialect),
        )
    )
    with repo.read() as conn:
        return set(conn.execute(stmt).scalars())


@pytest.mark.parametrize("role", list(PRINCIPALS))
def test_sql_and_python_read_rules_agree(repo: Repo, role: str) -> None:
    products, images = _seed(repo)
    p = PRINCIPALS[role]
    assert _sql_readable(repo, p, t.products) == {r["id"] for r in products if can_read(p, r)}
    assert _sql_readable(repo, p, t.images) == {r["id"] for r in images if can_read(p, r)}
    by_uid = {r["uid"]: r for r in products}
    within = {r["id"] for r in images if can_read_within(p, by_uid[r["product_uid"]], r)}
    assert _sql_readable_within(repo, p) == within


def test_the_seeded_world_covers_every_answer(repo: Repo) -> None:
    """Each role reads some images and is refused others (but the admin, who reads all): the
    comparison above is between non-trivial sets."""
    _, images = _seed(repo)
    for role, p in PRINCIPALS.items():
        readable = {r["id"] for r in images if can_read(p, r)}
        assert readable, role
        assert (readable == {r["id"] for r in images}) == (role == "admin"), role


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("owner", "own"),
        ("writer", "write"),
        ("reader", "read"),
        ("group member", "read"),
        ("org member", "write"),
        ("group and org", "write"),
        ("unrelated", None),
        ("admin", "own"),
    ],
)
def test_check_access_gives_each_role_its_level(role: str, expected: str | None) -> None:
    """One product shared every way: what each role may do with it (404 below read, 403 above
    what it may do)."""
    from rastercat.catalog.access import check_access
    from rastercat.errors import Forbidden, NotFound

    obj = {"owners": ["user:alice"], "readers": ["user:rita", "group:team"],
           "writers": ["user:will", "org:acme"]}  # fmt: skip
    p = PRINCIPALS[role]
    granted = []
    for level in ("read", "write", "own"):
        try:
            check_access(p, obj, level, "product")
        except NotFound:
            assert expected is None, (role, level)
            continue
        except Forbidden:
            continue
        granted.append(level)
    levels = ["read", "write", "own"]
    assert granted == (levels[: levels.index(expected) + 1] if expected else [])

"""A Metadata search by a caller the server remembers: one statement, checked by the database.

The server keeps each caller it authenticated with the catalog's versions of its users and of its
products (migrations 0007, 0008); the next search of that caller runs only its rows' statement,
which returns rows only while both versions are unchanged (``store/sql/guards.py``), on
PostgreSQL without a transaction. Any change to a user, a membership or a product, made by
another API process or by plain SQL, must show in the very next answer: revoked tokens refused,
groups and shares as they are now, errors as for a caller authenticated now. Checked over HTTP
against a real server, the changes made by a second set of services on the same catalog.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from rastercat.store.sql.repo import t
from rastercat.wiring import build
from scale.test_product_epoch import add_image

SEARCH = "/metadata/v1/search"
SEARCHED = re.compile(r"\b(images|users|memberships|products|user_epoch|product_epoch)\b")
BODIES = {
    "date order": {},
    "property filter": {"query_expr": {"range": {"cloud_fraction": {"lt": 0.5}}}},
    "sorted by a property": {"sort_field": "cloud_fraction", "sort_order": "desc"},
    "random order": {"random_seed": 7},
}


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, server_factory: Any) -> Iterator[tuple[Any, Any]]:
    """A server, and another API process's services on its catalog (where changes come from)."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_databases").create()
    server = server_factory(database_url=url, start_workers=False)
    other = build(server.settings, role="api")
    try:
        yield server, other
    finally:
        other.close()


class Statements:
    """The queries the server runs on the tables a search reads (not SQLite's ``PRAGMA`` and
    ``BEGIN`` of a read transaction, which cost microseconds, nor the server's background upkeep
    of jobs and deletions), and whether each ran outside a transaction (PostgreSQL)."""

    def __init__(self, server: Any) -> None:
        self.seen: list[tuple[str, bool]] = []
        self.guarded: list[str] = []  # statements run in a guarded read
        self.repo = server.state.repo
        sa.event.listen(server.state.engine, "before_cursor_execute", self._record)

    def _record(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.startswith(("PRAGMA", "BEGIN")) or not SEARCHED.search(statement):
            return
        autocommit = bool(getattr(conn.connection.driver_connection, "autocommit", False))
        self.seen.append((statement, autocommit))
        if self.repo.guard(conn) is not None:
            self.guarded.append(statement)

    def during(self, call: Any) -> list[tuple[str, bool]]:
        self.seen.clear()
        call()
        return list(self.seen)


def keys(client: httpx.Client, body: dict[str, Any]) -> list[str]:
    r = client.post(SEARCH, json=body)
    assert r.status_code == 200, r.text
    return sorted(f["id"].rsplit(":", 1)[1] for f in r.json())


def product_with_images(other: Any, owner: str, readers: list[str]) -> str:
    """A product of ``owner`` (readers as given) with two images, made by the other process."""
    p = other.users.authenticate(other.users.mint_token(owner))
    pid = other.catalog.create_product(p, {"id": "p", "title": "T", "description": "D"})["id"]
    with other.engine.begin() as conn:
        conn.execute(sa.update(t.products).where(t.products.c.id == pid).values(readers=readers))
    for key in ("i1", "i2"):  # a reader must be one of the image's too
        add_image(other, pid, key, readers=readers)
    with other.engine.begin() as conn:  # a property to filter and sort by
        conn.execute(
            sa.update(t.images)
            .where(t.images.c.product_id == pid)
            .values(attrs={"acquired": "2020-01-01T00:00:00+00:00", "cloud_fraction": 0.2})
        )
    return pid


def test_a_remembered_callers_search_is_its_rows_statement_alone(
    served: tuple[Any, Any],
) -> None:
    server, other = served
    other.users.add_user("olive")
    pid = product_with_images(other, "olive", [])
    statements = Statements(server)
    with server.client("olive") as c:
        first = statements.during(lambda: keys(c, {"products": [pid]}))
        assert any("FROM users" in s for s, _ in first)  # authenticated the full way, remembered
        for _ in range(3):
            seen = statements.during(lambda: keys(c, {"products": [pid]}))
            assert len(seen) == 1, seen
            ((sql, autocommit),) = seen
            assert "FROM images" in sql and "user_epoch" in sql and "product_epoch" in sql
            # PostgreSQL: no transaction around it (no BEGIN, no COMMIT).
            assert autocommit == (server.state.repo.dialect == "postgresql")
        assert keys(c, {"products": [pid]}) == ["i1", "i2"]


@pytest.mark.parametrize("shape", BODIES)
def test_a_revoked_token_is_refused_at_once(served: tuple[Any, Any], shape: str) -> None:
    server, other = served
    other.users.add_user("olive")
    pid = product_with_images(other, "olive", [])
    body = {"products": [pid], **BODIES[shape]}
    with server.client("olive") as c:
        assert keys(c, body) == ["i1", "i2"]
        assert keys(c, body) == ["i1", "i2"]  # remembered
        assert keys(c, {"products": ["nothing:here"]}) == []
        other.users.revoke_tokens("olive")
        for b in (body, {"products": ["nothing:here"]}):  # with rows, and finding nothing
            r = c.post(SEARCH, json=b)
            assert r.status_code == 401, r.text
            assert "revoked" in r.text


def test_a_group_left_or_joined_shows_in_the_next_answer(served: tuple[Any, Any]) -> None:
    server, other = served
    other.users.add_user("olive")
    other.users.add_user("rita", groups=("team",))
    pid = product_with_images(other, "olive", ["group:team"])
    with server.client("rita") as c:
        assert keys(c, {}) == ["i1", "i2"]
        assert keys(c, {}) == ["i1", "i2"]
        other.users.set_groups("rita", remove=("team",))
        assert keys(c, {}) == []
        assert keys(c, {"products": [pid]}) == []
        other.users.set_groups("rita", add=("team",))
        assert keys(c, {}) == ["i1", "i2"]


def test_a_share_revoked_by_plain_sql_shows_in_the_next_answer(served: tuple[Any, Any]) -> None:
    server, other = served
    other.users.add_user("olive")
    other.users.add_user("rita")
    rita = other.users.authenticate(other.users.mint_token("rita")).user_principal
    pid = product_with_images(other, "olive", [rita])
    with server.client("rita") as c:
        assert keys(c, {}) == ["i1", "i2"]
        assert keys(c, {}) == ["i1", "i2"]
        with other.engine.begin() as conn:
            conn.execute(sa.update(t.products).where(t.products.c.id == pid).values(readers=[]))
        assert keys(c, {}) == []
        assert keys(c, {"products": [pid]}) == []


def test_a_user_removed_and_added_again_is_a_new_caller(served: tuple[Any, Any]) -> None:
    server, other = served
    other.users.add_user("olive")
    product_with_images(other, "olive", [])
    with server.client("olive") as c:
        assert keys(c, {}) == ["i1", "i2"]
        assert keys(c, {}) == ["i1", "i2"]
        with other.engine.begin() as conn:  # as an operator might, in SQL
            conn.execute(sa.delete(t.memberships))
            conn.execute(sa.update(t.users).values(tokens_valid_after=2e9))
        r = c.post(SEARCH, json={})
        assert r.status_code == 401, r.text


def test_errors_are_those_of_a_caller_authenticated_now(served: tuple[Any, Any]) -> None:
    server, other = served
    other.users.add_user("olive")
    product_with_images(other, "olive", [])
    with server.client("olive") as c:
        assert keys(c, {}) == ["i1", "i2"]
        r = c.post(SEARCH, json={"limit": -1})
        assert r.status_code == 400 and "limit" in r.text, r.text
        other.users.revoke_tokens("olive")
        r = c.post(SEARCH, json={"limit": -1})  # the token first, as for any caller
        assert r.status_code == 401, r.text


def test_a_change_elsewhere_costs_one_full_search_then_one_statement_again(
    served: tuple[Any, Any],
) -> None:
    server, other = served
    other.users.add_user("olive")
    other.users.add_user("bob")
    pid = product_with_images(other, "olive", [])
    statements = Statements(server)
    with server.client("olive") as c:
        keys(c, {"products": [pid]})
        assert len(statements.during(lambda: keys(c, {"products": [pid]}))) == 1
        other.users.set_org("bob", "elsewhere")  # another user: the users' version moves
        seen = statements.during(lambda: keys(c, {"products": [pid]}))
        # The guarded statement found nothing; the versions, then the full way: user and rows.
        assert len(seen) == 4, seen
        assert "FROM users" in seen[2][0] and "FROM images" in seen[3][0]
        assert "user_epoch" not in seen[3][0]
        assert len(statements.during(lambda: keys(c, {"products": [pid]}))) == 1
        assert keys(c, {"products": [pid]}) == ["i1", "i2"]


def test_product_acls_are_never_read_by_a_guarded_read(served: tuple[Any, Any]) -> None:
    """The remembered versions may be newer than the ACLs the server keeps (a caller
    authenticated by a route that reads no ACLs): ACL rows read by a guarded read would be
    checked by nothing, so the search is answered the full way instead."""
    server, other = served
    other.users.add_user("olive")
    other.users.add_user("rita")
    rita = other.users.authenticate(other.users.mint_token("rita")).user_principal
    pid = product_with_images(other, "olive", [rita])
    statements = Statements(server)
    with server.client("rita") as c:
        assert keys(c, {}) == ["i1", "i2"]
        with other.engine.begin() as conn:
            conn.execute(sa.update(t.products).where(t.products.c.id == pid).values(readers=[]))
        with server.state.repo.snapshot():  # as a tile route authenticates: remembered anew
            server.state.users.authenticate(server.token("rita"))
        seen = statements.during(lambda: keys(c, {}))
        assert any("FROM products" in sql for sql, _ in seen)
        assert statements.guarded == [], statements.guarded
        assert keys(c, {}) == []
        assert len(statements.during(lambda: keys(c, {}))) == 1
        assert len(statements.guarded) == 2


def stac_ids(client: httpx.Client, method: str, params: dict[str, Any]) -> list[str]:
    if method == "GET":
        r = client.get("/stac/v1/search", params=params)
    else:
        r = client.post("/stac/v1/search", json=params)
    assert r.status_code == 200, r.text
    return sorted(f["id"].rsplit(":", 1)[1] for f in r.json()["features"])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_stac_search_is_guarded_the_same_way(served: tuple[Any, Any], method: str) -> None:
    server, other = served
    other.users.add_user("olive")
    other.users.add_user("rita")
    rita = other.users.authenticate(other.users.mint_token("rita")).user_principal
    pid = product_with_images(other, "olive", [rita])
    asked = {"collections": pid} if method == "GET" else {"collections": [pid]}
    statements = Statements(server)
    with server.client("rita") as c:
        assert stac_ids(c, method, asked) == ["i1", "i2"]
        seen = statements.during(lambda: stac_ids(c, method, asked))
        assert len(seen) == 1 and "user_epoch" in seen[0][0], seen
        with other.engine.begin() as conn:
            conn.execute(sa.update(t.products).where(t.products.c.id == pid).values(readers=[]))
        assert stac_ids(c, method, asked) == []
        assert stac_ids(c, method, {}) == []
        other.users.revoke_tokens("rita")
        r = c.get("/stac/v1/search") if method == "GET" else c.post("/stac/v1/search", json={})
        assert r.status_code == 401, r.text

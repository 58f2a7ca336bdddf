"""SQLite: reads neither wait for the writer nor hold it up, and read-then-write never fails.

Every transaction used to be ``BEGIN IMMEDIATE``: authentication waited behind any write (up to
the 30 s busy timeout), and a streamed summary held every writer up until it ended.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from rastercat.api.state import AppState
from rastercat.errors import StoreError
from rastercat.store.sql.repo import t, utcnow
from rastercat.store.sql.summary import sql_facts

DEADLINE = 3.0
"""Seconds a request or a write may take here; the old code waited for the 30 s busy timeout."""


def _add_image_rows(state: AppState, owner: Any, n: int) -> None:
    with state.repo.tx() as conn:
        state.repo.insert(
            t.products,
            {"uid": "p-uid", "id": "ns:p", "namespace": owner.namespace, "owners": [f"user:{owner.namespace}"], "readers": [],
             "writers": [], "attrs": {}, "created": utcnow(), "modified": utcnow()},
            conn,
        )  # fmt: skip
        for i in range(n):
            state.repo.insert(
                t.images,
                {"id": f"ns:p:{i}", "key": str(i), "product_id": "ns:p", "product_uid": "p-uid",
                 "owners": [f"user:{owner.namespace}"], "readers": [], "writers": [],
                 "attrs": {"file_sizes": [10]}, "band_names": ["b"], "acquired": 86400.0 * i, "created": utcnow(),
                 "modified": utcnow()},
                conn,
            )  # fmt: skip


def _run_with_deadline(fn: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def target() -> None:
        try:
            out.append(fn())
        except Exception as exc:  # reported by the test
            out.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(DEADLINE)
    return thread, out


def test_a_streaming_summary_does_not_hold_up_writers(state: AppState) -> None:
    state.users.add_user("reader")
    reader = state.users.authenticate(state.users.mint_token("reader"))
    _add_image_rows(state, reader, 3)
    facts = sql_facts(state.repo, reader, [], "day")  # one group per image: three rows
    assert next(facts)[0] == "ns:p"  # the summary's transaction is open, mid-stream
    try:
        thread, out = _run_with_deadline(lambda: state.users.add_user("writer"))
        assert not thread.is_alive(), "a write waited for a streaming summary to end"
        assert out and isinstance(out[0], dict) and out[0]["name"] == "writer", out
        # The summary goes on reading its own snapshot.
        assert len(list(facts)) == 2
    finally:
        facts.close()
        thread.join(60)


def test_requests_are_authenticated_while_a_write_is_in_progress(server_factory: Any) -> None:
    server = server_factory()
    token = server.token("alice")
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with server.state.repo.tx() as conn:
            conn.execute(sa.update(t.users).where(t.users.c.name == "alice").values(org=None))
            holding.set()
            release.wait(60)

    writer = threading.Thread(target=hold_the_write_lock, daemon=True)
    writer.start()
    assert holding.wait(10)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": token}) as c:
            started = time.monotonic()
            r = c.get("/whoami", timeout=DEADLINE)
            assert r.status_code == 200 and r.json()["name"] == "alice"
            r = c.post("/metadata/v1/search", json={"limit": 1}, timeout=DEADLINE)
            assert r.status_code == 200, r.text
            r = c.post("/metadata/v1/summary", json={}, timeout=DEADLINE)
            assert r.status_code == 200, r.text
            assert time.monotonic() - started < DEADLINE
    finally:
        release.set()
        writer.join(60)


def test_read_transactions_refuse_writes(state: AppState) -> None:
    with pytest.raises(StoreError, match="readonly"), state.repo.read() as conn:
        conn.execute(sa.update(t.users).values(org="x"))
    # The pooled connection is a writer again in its next write transaction.
    state.users.add_user("after")
    assert state.users.get_user("after")["name"] == "after"


def test_concurrent_reads_and_read_then_write_never_see_a_locked_database(
    state: AppState,
) -> None:
    names = [f"u{i}" for i in range(16)]
    tokens = {}
    for n in names:
        state.users.add_user(n)
        tokens[n] = state.users.mint_token(n)
    errors: list[BaseException] = []
    start = threading.Barrier(len(names))

    def work(name: str) -> None:
        try:
            start.wait()
            for i in range(40):
                assert state.users.authenticate(tokens[name]).name == name
                with state.repo.read() as conn:
                    conn.execute(sa.select(sa.func.count()).select_from(t.users)).scalar_one()
                with state.repo.tx() as conn:  # read, then write, in one transaction
                    row = state.repo.one(t.users, conn, name=name)
                    assert row is not None
                    state.repo.update(t.users, row["pk"], {"org": f"o{i}"}, conn)
        except BaseException as exc:  # collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    assert not errors, errors[:3]
    assert {u["org"] for u in state.users.list_users()} == {"o39"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/metadata/v1/search", {"products": ["ns:p"]}),
        ("POST", "/stac/v1/search", {"collections": ["ns:p"]}),
        ("GET", "/stac/v1/search?collections=ns:p", None),
        ("GET", "/stac/v1/collections/ns:p/items", None),
    ],
)
def test_a_search_request_is_one_read_transaction(
    server_factory: Any, method: str, path: str, body: Any
) -> None:
    """Authentication, the products' ACLs and the rows come from one pooled connection and one
    transaction (``Repo.snapshot``), not one per lookup."""
    server = server_factory()
    token = server.token("alice")
    owner = server.state.users.authenticate(token)
    _add_image_rows(server.state, owner, 3)
    checkouts: list[Any] = []
    begins: list[Any] = []

    def checkout(*args: Any) -> None:
        checkouts.append(threading.current_thread().name)

    def begin(conn: Any) -> None:
        begins.append(threading.current_thread().name)

    engine = server.state.engine
    sa.event.listen(engine, "checkout", checkout)
    sa.event.listen(engine, "begin", begin)
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": token}) as client:
            r = client.request(method, path, json=body)
    finally:
        sa.event.remove(engine, "checkout", checkout)
        sa.event.remove(engine, "begin", begin)
    assert r.status_code == 200, r.text
    found = r.json() if path.startswith("/metadata") else r.json()["features"]
    assert sorted(f["id"] for f in found) == ["ns:p:0", "ns:p:1", "ns:p:2"]
    # The server's own threads (ingest workers, maintenance) poll the catalog meanwhile.
    ours = [n for n in checkouts if not n.startswith("rastercat-")]
    assert ours == ["AnyIO worker thread"], checkouts
    assert [n for n in begins if not n.startswith("rastercat-")] == ours, begins


def test_a_search_by_a_revoked_token_is_refused_though_the_token_was_seen(
    server_factory: Any,
) -> None:
    """Tokens whose signature was checked are remembered, not whether their user may still use
    them: revocation takes effect on the next request."""
    server = server_factory()
    token = server.token("alice")
    with httpx.Client(base_url=server.url, headers={"Authorization": token}) as client:
        assert client.post("/metadata/v1/search", json={}).status_code == 200
        server.state.users.revoke_tokens("alice")
        r = client.post("/metadata/v1/search", json={})
    assert r.status_code == 401, r.text
    assert "revoked" in r.text

"""Read transactions that end after the answer (``Repo.snapshot(end_later=True)``, used by the
search, STAC and tile routes): on PostgreSQL the ``COMMIT`` is left to :class:`LateEnds`, never
lost, never left open past shutdown; an error ends the transaction at once; SQLite ends at once.

A held end is a real one queued first on a one-thread :class:`LateEnds`: it blocks the thread
until the test lets it go, so the test can see the search's transaction still open, then ended.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from rastercat.store.sql.engine import make_engine, migrate
from rastercat.store.sql.late_ends import LateEnds
from rastercat.store.sql.repo import Repo
from scale.test_pg_pool import PG_ADMIN, terminate


def poll(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.01)


def backend_state(pid: int) -> str | None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        row = admin.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    return None if row is None else row[0]


class Held:
    """A one-thread LateEnds whose thread is busy until :meth:`release`."""

    def __init__(self) -> None:
        self.ends = LateEnds(threads=1)
        self.gate = threading.Event()
        self.ends.submit(lambda: self.gate.wait(30))

    def release(self) -> None:
        self.gate.set()


@pytest.fixture
def held() -> Iterator[Held]:
    """A held end thread, let go at the end of the test whatever happened."""
    h = Held()
    try:
        yield h
    finally:
        h.release()


@pytest.fixture
def pg_repo(pg_url: str) -> Iterator[Repo]:
    repo = Repo(make_engine(pg_url))
    try:
        yield repo
    finally:
        repo.close()


@pytest.fixture
def lite_repo(tmp_path: Path) -> Iterator[Repo]:
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    migrate(engine)
    repo = Repo(engine)
    try:
        yield repo
    finally:
        repo.close()


def read_pid(repo: Repo) -> int:
    with repo.read() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_the_block_ends_before_the_transaction_and_the_transaction_still_ends(
    pg_repo: Repo, held: Held
) -> None:
    pg_repo.late_ends = held.ends
    with pg_repo.snapshot(end_later=True):
        pid = read_pid(pg_repo)
        assert read_pid(pg_repo) == pid  # one connection for the whole block
    # The block is over; its COMMIT waits behind the held end: still open, still checked out.
    assert pg_repo.engine.pool.checkedout() == 1
    assert backend_state(pid) == "idle in transaction"
    held.release()
    poll(lambda: pg_repo.engine.pool.checkedout() == 0, "the connection back in the pool")
    assert backend_state(pid) == "idle"


def test_reads_in_the_block_see_one_state_of_the_catalog(pg_repo: Repo) -> None:
    with pg_repo.tx() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS late_probe (n int)")
        conn.exec_driver_sql("DELETE FROM late_probe")

    def count() -> int:
        with pg_repo.read() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM late_probe").scalar_one())

    with pg_repo.snapshot(end_later=True):
        before = count()
        with psycopg.connect(pg_repo.engine.url.render_as_string(hide_password=False).replace(
                "postgresql+psycopg", "postgresql"), autocommit=True) as other:  # fmt: skip
            other.execute("INSERT INTO late_probe VALUES (1)")
        assert count() == before  # the snapshot's state, not the one after the insert
    assert count() == before + 1


def test_an_error_in_the_block_ends_the_transaction_at_once(pg_repo: Repo, held: Held) -> None:
    pg_repo.late_ends = held.ends
    with pytest.raises(ValueError, match="boom"), pg_repo.snapshot(end_later=True):
        pid = read_pid(pg_repo)
        raise ValueError("boom")
    assert pg_repo.engine.pool.checkedout() == 0  # not queued behind the held end
    assert backend_state(pid) == "idle"


def test_a_snapshot_inside_a_snapshot_leaves_the_end_to_the_outer_one(
    pg_repo: Repo, held: Held
) -> None:
    pg_repo.late_ends = held.ends
    with pg_repo.snapshot():
        pid = read_pid(pg_repo)
        with pg_repo.snapshot(end_later=True):
            assert read_pid(pg_repo) == pid
        assert backend_state(pid) == "idle in transaction"  # the outer block goes on
    assert pg_repo.engine.pool.checkedout() == 0  # ended at once by the outer one


def test_close_waits_for_the_ends_under_way_then_ends_in_the_callers_thread(
    pg_repo: Repo, held: Held
) -> None:
    pg_repo.late_ends = held.ends
    with pg_repo.snapshot(end_later=True):
        pid = read_pid(pg_repo)
    closing = threading.Thread(target=held.ends.close)
    closing.start()
    closing.join(0.3)
    assert closing.is_alive()  # waiting for the held end and the queued COMMIT
    held.release()
    closing.join(10)
    assert not closing.is_alive()
    assert pg_repo.engine.pool.checkedout() == 0
    assert backend_state(pid) == "idle"
    with pg_repo.snapshot(end_later=True):  # after close: ended here, at once
        read_pid(pg_repo)
    assert pg_repo.engine.pool.checkedout() == 0


def test_an_end_that_fails_is_logged_and_the_pool_goes_on(
    pg_repo: Repo, caplog: pytest.LogCaptureFixture, held: Held
) -> None:
    pg_repo.late_ends = held.ends
    with pg_repo.snapshot(end_later=True):
        pid = read_pid(pg_repo)
    terminate(pid)  # the server side goes away before the COMMIT is sent
    with caplog.at_level(logging.WARNING, logger="rastercat.store.sql.late_ends"):
        held.release()
        poll(lambda: pg_repo.engine.pool.checkedout() == 0, "the broken connection handed back")
        poll(lambda: "failed to end" in caplog.text, "the warning")
    assert read_pid(pg_repo) != pid  # a new connection; the read works


def test_sqlite_ends_at_once(lite_repo: Repo, held: Held) -> None:
    lite_repo.late_ends = held.ends
    with lite_repo.snapshot(end_later=True), lite_repo.read() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert lite_repo.engine.pool.checkedout() == 0


def test_search_and_stac_answers_do_not_wait_for_their_transactions_end(
    pg_url: str, tmp_path: Path, root_conftest: Any, held: Held
) -> None:
    """Through the real server: with the end thread held, each search is answered while its
    transaction is still open (its connection still out of the pool); let go, every one ends.
    Each is its caller's first (a caller the server remembers is searched without a transaction,
    ``tests/scale/test_remembered_callers.py``: nothing to end, checked here too)."""
    server = root_conftest.LiveServer(
        root_conftest.make_settings(tmp_path / "data", database_url=pg_url, start_workers=False)
    ).start()
    try:
        repo: Repo = server.state.repo
        with server.client("alice") as c, server.client("bob") as b:
            made = c.post("/metadata/v1/catalog/products",
                          json={"id": "late", "title": "T", "description": "D"})  # fmt: skip
            assert made.status_code == 201, made.text
            repo.late_ends = held.ends
            ends: list[Any] = []
            submit = held.ends.submit
            held.ends.submit = lambda end: (ends.append(end), submit(end))[1]  # type: ignore[method-assign]
            try:
                r = c.post("/metadata/v1/search", json={"limit": 5}, timeout=20)
                assert r.status_code == 200, r.text
                s = b.post("/stac/v1/search", json={"limit": 5}, timeout=20)
                assert s.status_code == 200, s.text
                # Both answered, both still open (the server's periodic upkeep may hold another).
                assert repo.engine.pool.checkedout() >= 2
                assert len(ends) == 2
                for client, route in ((c, "/metadata/v1/search"), (b, "/stac/v1/search")):
                    again = client.post(route, json={"limit": 5}, timeout=20)  # remembered
                    assert again.status_code == 200, again.text
                assert len(ends) == 2  # nothing more left to end
            finally:
                held.release()
            poll(lambda: repo.engine.pool.checkedout() == 0, "both connections back in the pool")
            for _ in range(40):  # more than the pool holds (10 + 20): none is kept
                assert c.post("/metadata/v1/search", json={"limit": 5}).status_code == 200
        poll(lambda: repo.engine.pool.checkedout() == 0, "every connection back in the pool")
    finally:
        server.stop()


def test_an_end_submitted_when_no_thread_can_start_runs_at_once() -> None:
    """At interpreter shutdown the executor refuses new work: the end runs in the caller's thread
    rather than failing the request that asked for it."""
    ends = LateEnds(threads=1)
    ends.submit(lambda: None)
    assert ends._pool is not None
    ends._pool.shutdown(wait=True)  # as concurrent.futures does at exit, without close()
    ran: list[str] = []
    ends.submit(lambda: ran.append(threading.current_thread().name))
    assert ran == [threading.current_thread().name]

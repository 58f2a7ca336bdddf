"""Step 2 over slow and broken connections: a PUT that keeps sending is never expired, however
long it takes; one PUT at a time per URL; a PUT that stops sending, or whose client goes away, is
given up quietly and its URL works again."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest
import sqlalchemy as sa
from _upload_helpers import Uploader, assert_no_stray_files, band

from helpers import wait_for, write_geotiff
from rastercat.store.sql.repo import t, utcnow


def tif_bytes(tmp_path: Path) -> bytes:
    # Noisy, so the file is a few hundred KB: several chunks on the wire.
    arr = np.random.default_rng(1).integers(0, 10000, (256, 256), dtype="uint16")
    return write_geotiff(tmp_path / "slow.tif", arr).read_bytes()


def parts_in_flight(server: Any) -> list[Path]:
    return list((server.settings.data_dir / "incoming").glob("*.part"))


def slow_body(data: bytes, gate: threading.Event, pieces: int = 8, pause: float = 0.0
              ) -> Iterator[bytes]:  # fmt: skip
    """The first piece at once; the rest once ``gate`` is set, ``pause`` seconds apart."""
    step = len(data) // pieces + 1
    yield data[:step]
    assert gate.wait(60)
    for i in range(step, len(data), step):
        time.sleep(pause)  # a slow client, not a wait for the server
        yield data[i : i + step]


def put_in_background(up: Uploader, url: str, body: Iterator[bytes]) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["response"] = up.put(url, body)
        except Exception as exc:  # noqa: BLE001 (the test looks at it)
            out["error"] = exc

    out["thread"] = threading.Thread(target=run)
    out["thread"].start()
    return out


@pytest.fixture
def slow_up(server_factory: Any) -> Iterator[Uploader]:
    """Short URL lifetime and idle timeout, so expiry would show within a test."""
    server = server_factory(upload_url_ttl=2, upload_idle_timeout=3)
    up = Uploader(server)
    try:
        yield up
    finally:
        up.close()


def test_a_put_that_keeps_sending_is_never_expired(slow_up: Uploader, tmp_path: Path) -> None:
    up, server = slow_up, slow_up.server
    pid = up.product([band("b1")])
    data = tif_bytes(tmp_path)
    url = up.begin(pid, "slow.tif")
    gate = threading.Event()
    # About 4 s of sending: longer than the URL's 2 s lifetime, each pause shorter than the
    # idle timeout; the maintenance thread runs its expiry every second meanwhile.
    put = put_in_background(up, url, slow_body(data, gate, pieces=8, pause=0.5))
    wait_for(lambda: parts_in_flight(server), timeout=20, what="the PUT to start receiving")
    with server.state.repo.tx() as conn:  # and the upload was made hours ago
        conn.execute(sa.update(t.uploads).values(created=utcnow() - timedelta(hours=2)))
    server.state.maintenance.maintenance.expire_uploads()
    gate.set()
    put["thread"].join(60)
    assert "error" not in put, put.get("error")
    assert put["response"].status_code == 200, put["response"].text
    assert up.wait(pid, "slow.tif")["status"] == "SUCCESS"
    assert_no_stray_files(server)


def test_one_put_at_a_time(up: Uploader, clean: None, tmp_path: Path) -> None:
    pid = up.product([band("b1")])
    data = tif_bytes(tmp_path)
    url = up.begin(pid, "slow.tif")
    gate = threading.Event()
    first = put_in_background(up, url, slow_body(data, gate))
    try:
        wait_for(lambda: parts_in_flight(up.server), timeout=20, what="the first PUT")
        second = up.put(url, data)
        assert second.status_code == 409, second.text
        assert "one PUT at a time" in second.text
    finally:
        gate.set()
        first["thread"].join(60)
    assert first["response"].status_code == 200, first["response"].text
    assert up.wait(pid, "slow.tif")["status"] == "SUCCESS"


def test_a_put_that_stops_sending_is_given_up_and_the_url_works_again(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory(upload_idle_timeout=1.5)
    up = Uploader(server)
    pid = up.product([band("b1")])
    data = tif_bytes(tmp_path)
    url = up.begin(pid, "stall.tif")
    gate = threading.Event()
    stalled = put_in_background(up, url, slow_body(data, gate))
    try:
        wait_for(lambda: parts_in_flight(server), timeout=20, what="the PUT to start")
        # No more data: after the 1.5 s idle timeout the PUT is given up, its partial file removed
        # and the upload given back (not expired: the URL may still be used).
        wait_for(
            lambda: not parts_in_flight(server), timeout=20, what="the stalled PUT to be dropped"
        )
        row = server.state.repo.one(t.uploads, upload_id="stall.tif")
        assert row["status"] == "UPLOADING" and row["file_key"] is None
    finally:
        gate.set()
        stalled["thread"].join(60)
    if "response" in stalled:  # or the server closed the connection while it was sending
        assert stalled["response"].status_code == 409, stalled["response"].text
        assert "no data arrived" in stalled["response"].text
    again = up.put(url, data)
    assert again.status_code == 200, again.text
    assert up.wait(pid, "stall.tif")["status"] == "SUCCESS"
    assert_no_stray_files(server)
    up.close()


def test_a_hold_whose_put_died_is_expired_as_stalled(slow_up: Uploader) -> None:
    """A process that died mid-PUT never gives its upload back: the lapsed hold ends it."""
    up, server = slow_up, slow_up.server
    pid = up.product([band("b1")])
    up.begin(pid, "died.tif")
    with server.state.repo.tx() as conn:
        conn.execute(
            sa.update(t.uploads).values(
                file_key="uploads/x/y/died.tif", lease_until=time.time() - 3600
            )
        )
    doc = wait_for(
        lambda: (d := up.result(pid, "died.tif"))["status"] == "FAILURE" and d,
        timeout=20,
        what="the stalled upload to end",
    )
    assert "stalled" in doc["logs"] and doc["failure_type"] == "timeout"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_client_that_goes_away_mid_put_leaves_nothing_and_may_retry(
    up: Uploader, clean: None, tmp_path: Path
) -> None:
    pid = up.product([band("b1")])
    data = tif_bytes(tmp_path)
    url = up.begin(pid, "gone.tif")
    records = _Records()
    loggers = [logging.getLogger(n) for n in ("uvicorn.error", "rastercat", "")]
    for lg in loggers:
        lg.addHandler(records)
    try:
        parsed = urlparse(url)
        with socket.create_connection((parsed.hostname, parsed.port), timeout=30) as sock:
            head = (
                f"PUT {parsed.path} HTTP/1.1\r\nHost: {parsed.netloc}\r\n"
                f"Content-Length: {len(data)}\r\n\r\n"
            )
            sock.sendall(head.encode() + data[: len(data) // 3])
            wait_for(lambda: parts_in_flight(up.server), timeout=20, what="the PUT to start")
        # The connection is closed a third of the way through.
        wait_for(lambda: not parts_in_flight(up.server), timeout=20, what="the partial file to go")
        wait_for(
            lambda: up.server.state.repo.one(t.uploads, upload_id="gone.tif")["file_key"] is None,
            timeout=20,
            what="the upload to be given back",
        )
    finally:
        for lg in loggers:
            lg.removeHandler(records)
    tracebacks = [r for r in records.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]
    again = up.put(url, data)
    assert again.status_code == 200, again.text
    assert up.wait(pid, "gone.tif")["status"] == "SUCCESS"


def test_a_put_cut_off_by_a_restart_may_be_retried(server_factory: Any, tmp_path: Path) -> None:
    """The embedded server's start-up gives back uploads whose PUT the restart interrupted."""
    data_dir = tmp_path / "data"
    first = server_factory(data_dir)
    up = Uploader(first)
    pid = up.product([band("b1")])
    url = up.begin(pid, "cut.tif")
    up.close()
    with first.state.repo.tx() as conn:  # as a PUT in progress leaves it
        conn.execute(
            sa.update(t.uploads).values(
                file_key="uploads/x/y/cut.tif", lease_until=time.time() + 3600
            )
        )
    first.stop()
    second = server_factory(data_dir)
    up = Uploader(second)
    try:
        row = second.state.repo.one(t.uploads, upload_id="cut.tif")
        assert row["status"] == "UPLOADING" and row["file_key"] is None
        url = url.replace(first.url, second.url)  # a new port; the same signed URL
        assert up.put(url, tif_bytes(tmp_path)).status_code == 200
        assert up.wait(pid, "cut.tif")["status"] == "SUCCESS"
    finally:
        up.close()

"""``rastercat serve`` as a real process: killed with SIGKILL in the middle of an ingest it
recovers on restart, and a large streamed PUT leaves its memory flat."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from _upload_helpers import CAT, band

from helpers import wait_for, write_geotiff


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """One ``rastercat serve`` subprocess on a data directory; start it again after a kill."""

    def __init__(self, data_dir: Path, workers: int = 1) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "HOME": str(data_dir.parent / "home"),
            "RASTERCAT_CREDENTIALS": str(data_dir.parent / "credentials.json"),
        }

    def start(self) -> ServeProcess:
        exe = Path(sys.executable).with_name("rastercat")
        cmd = [str(exe), "serve", "--port", str(self.port), "--data-dir", str(self.data_dir),
               "--workers", str(self.workers), "--log-level", "warning"]  # fmt: skip
        self.log = (self.data_dir.parent / "serve.log").open("ab")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=self.log)

        def up() -> bool:
            assert self.proc is not None and self.proc.poll() is None, "rastercat serve exited"
            try:
                return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 60, what="rastercat serve to answer")
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.log.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
            self.log.close()

    def client(self) -> httpx.Client:
        cred = json.loads((self.data_dir / "local-credentials.json").read_text())
        return httpx.Client(base_url=self.url, headers={"Authorization": cred["token"]}, timeout=60)

    def job_status(self, upload_id: str) -> tuple[str, int] | None:
        """Straight from the database file, as an operator would look."""
        db = sqlite3.connect(f"file:{self.data_dir / 'catalog.db'}?mode=ro", uri=True, timeout=5)
        try:
            row = db.execute(
                "SELECT status, attempts FROM uploads WHERE upload_id = ?", (upload_id,)
            ).fetchone()
        finally:
            db.close()
        return (row[0], row[1]) if row else None

    def memory_kib(self, field: str) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"{field} not in /proc status")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ServeProcess]:
    proc = ServeProcess(tmp_path / "data")
    try:
        yield proc
    finally:
        proc.stop()


def _files(root: Path) -> list[str]:
    return sorted(
        (Path(d) / f).relative_to(root).as_posix() for d, _, names in os.walk(root) for f in names
    )


def _product(c: httpx.Client) -> str:
    r = c.post(f"{CAT}/products", json={"id": "killme", "title": "T", "description": "D"})
    assert r.status_code == 201, r.text
    pid = r.json()["data"]["id"]
    for i in (1, 2):
        assert (
            c.post(f"{CAT}/products/{pid}/bands", json=band(f"b{i}", srcband=i)).status_code == 201
        )
    return pid


@pytest.mark.slow
def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent to read its status."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_sigkill_mid_ingest_then_restart(serve, tmp_path):
    # Noisy pixels, big enough that compressing them takes a couple of seconds on one worker.
    rng = np.random.default_rng(5)
    big = write_geotiff(tmp_path / "big.tif", rng.integers(0, 65535, (2, 2048, 2048), "uint16"))
    serve.start()
    with serve.client() as c:
        pid = _product(c)
        url = c.post(
            f"{CAT}/products/{pid}/images/upload/big.tif",
            json={"process_controls": {"upload_type": "file"}},
        ).text
        with big.open("rb") as f:
            assert httpx.put(url, content=f, timeout=120).status_code == 200
    wait_for(lambda: serve.job_status("big.tif") == ("RUNNING", 1), 60, interval=0.01,
             what="the job to start")  # fmt: skip
    # Kill once the worker has started writing its temporary COG.
    work = serve.data_dir / "work"
    wait_for(lambda: any(work.rglob("*.tif")), 60, interval=0.005, what="a temporary COG")
    assert serve.proc is not None
    children = _children(serve.proc.pid)  # the conversion process (and multiprocessing's tracker)
    assert children, "the conversion runs in a child process"
    serve.kill()
    assert serve.job_status("big.tif") == ("RUNNING", 1), "the job finished before the kill"
    # Nothing of the killed server stays behind: its conversion process notices and ends.
    wait_for(
        lambda: not any(_alive(c) for c in children), 30, what="the killed server's children to end"
    )

    serve.start()
    wait_for(lambda: serve.job_status("big.tif") == ("SUCCESS", 2), 120, interval=0.05,
             what="the job to run again to SUCCESS")  # fmt: skip
    with serve.client() as c:
        found = c.post("/metadata/v1/search", json={"products": [pid], "limit": 10}).json()
        assert [f["id"] for f in found] == [f"{pid}:big"]
        logs = c.get(f"{CAT}/products/{pid}/uploads/big.tif").json()["data"]["attributes"]["logs"]
        assert "attempt 2" in logs
    db = sqlite3.connect(serve.data_dir / "catalog.db")
    (storage_key,) = db.execute("SELECT storage_key FROM images").fetchone()
    db.close()
    assert _files(serve.data_dir / "objects") == [storage_key]
    assert _files(serve.data_dir / "work") == [] and _files(serve.data_dir / "incoming") == []


@pytest.mark.slow
def test_streamed_put_keeps_server_memory_flat(serve):
    serve.start()
    with serve.client() as c:
        pid = _product(c)
        url = c.post(
            f"{CAT}/products/{pid}/images/upload/huge.tif",
            json={"process_controls": {"upload_type": "file"}},
        ).text
    size = 200 * 2**20  # twice the allowed growth: a server that buffers the body fails
    chunk = b"\x07" * 2**20

    def body() -> Iterator[bytes]:
        for _ in range(size // len(chunk)):
            yield chunk

    before = serve.memory_kib("VmRSS")
    r = httpx.put(url, content=body(), timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["size"] == size
    growth_mib = (serve.memory_kib("VmHWM") - before) / 1024
    assert growth_mib < 100, f"the server grew by {growth_mib:.0f} MiB for a {size >> 20} MiB PUT"
    wait_for(lambda: (serve.job_status("huge.tif") or ("",))[0] == "FAILURE", 60,
             what="the junk upload to fail")  # fmt: skip
    wait_for(lambda: _files(serve.data_dir / "objects") == [], 10, what="the raw file removed")


def test_stopping_the_server_answers_held_long_polls(serve, tmp_path):
    """Ctrl-C (SIGINT) must not wait for upload results held by ``?wait=`` (up to 60 s): they are
    answered at once with the status as it is, and the server exits."""
    import threading

    serve.start()
    with serve.client() as c:
        r = c.post(f"{CAT}/products", json={"id": "held", "title": "T", "description": "D"})
        pid = r.json()["data"]["id"]
        for i, name in enumerate(("a", "b")):
            r = c.post(f"{CAT}/products/{pid}/bands", json=band(name, srcfile=i))
            assert r.status_code == 201, r.text
        multi = {"image_files": ["a.tif", "b.tif"], "image_id": "scene"}
        url = c.post(
            f"{CAT}/products/{pid}/images/upload/a.tif",
            json={"process_controls": {"upload_type": "file", "multi_file": multi}},
        ).text
        path = write_geotiff(tmp_path / "a.tif", np.ones((8, 8), "uint16"))
        assert httpx.put(url, content=path.read_bytes()).status_code == 200
        answers: list[httpx.Response] = []
        sent = threading.Event()
        hooks = {"request": [lambda _request: sent.set()]}
        with httpx.Client(base_url=serve.url, headers=dict(c.headers), timeout=90,
                          event_hooks=hooks) as waiter:  # fmt: skip
            held = threading.Thread(
                target=lambda: answers.append(
                    waiter.get(f"{CAT}/products/{pid}/uploads/a.tif", params={"wait": "60"})
                )
            )
            held.start()
            assert sent.wait(30)
            # A second, short long poll answered after its 0.5 s: by then the server has long
            # been holding the first one, sent before it.
            r = c.get(f"{CAT}/products/{pid}/uploads/a.tif", params={"wait": "0.5"})
            assert r.json()["data"]["attributes"]["status"] == "WAITING" and not answers
            assert serve.proc is not None
            serve.proc.send_signal(signal.SIGINT)
            serve.proc.wait(30)  # far less than the 60 s the request asked to be held
            held.join(30)
    assert answers and answers[0].status_code == 200
    assert answers[0].json()["data"]["attributes"]["status"] == "WAITING"

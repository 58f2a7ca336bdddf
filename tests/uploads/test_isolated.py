"""Conversions in child processes: the same results and logs, and a killed child fails one job only."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

import numpy as np
from _upload_helpers import Uploader, band

from helpers import wait_for, write_geotiff


def test_conversion_in_a_child_process(server_factory: Any, tmp_path: Any) -> None:
    server = server_factory(isolate=True)
    assert server.state.conversions is not None
    up = Uploader(server)
    try:
        pid = up.product([band("blue")])
        data = np.arange(64 * 48, dtype="uint16").reshape(48, 64)
        up.upload(pid, write_geotiff(tmp_path / "blue.tif", data))
        result = up.wait(pid, "blue.tif")
        assert result["status"] == "SUCCESS", result["logs"]
        assert "COG written" in result["logs"]  # the child's log lines come back
        children = server.state.conversions._executor._processes
        assert children and os.getpid() not in children

        # A child killed mid-life (as the OOM killer would) breaks the pool; the next job says so
        # or runs on a fresh pool, and the server goes on ingesting.
        for child in list(children):
            os.kill(child, signal.SIGKILL)
        up.upload(pid, write_geotiff(tmp_path / "after.tif", data))
        after = wait_for(
            lambda: (r := up.result(pid, "after.tif"))["status"] in ("SUCCESS", "FAILURE") and r,
            what="the upload after the kill",
        )
        if after["status"] == "FAILURE":
            assert after["failure_type"] == "oom"
            up.upload(pid, write_geotiff(tmp_path / "again.tif", data))
            assert up.wait(pid, "again.tif")["status"] == "SUCCESS"
    finally:
        up.close()


SCRIPT = """
import sys
from pathlib import Path

import uvicorn

from rastercat.api.app import create_app
from rastercat.config import IngestSettings, Settings

# No `if __name__ == "__main__":` guard: every spawned child re-runs this and cannot start.
settings = Settings(data_dir=Path(sys.argv[1]), ingest=IngestSettings(workers=1, isolate=True))
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def test_a_script_without_a_main_guard_still_ingests(tmp_path: Any) -> None:
    """Embedded in a script with no ``__main__`` guard, the conversion processes cannot start;
    the server says why in its log and converts in its own process instead of failing jobs."""
    import socket
    import subprocess
    import sys

    import httpx

    from rastercat.api.state import server_secret
    from rastercat.catalog.users import UserService
    from rastercat.config import Settings
    from rastercat.store.sql.engine import make_engine
    from rastercat.store.sql.repo import Repo

    script = tmp_path / "serve_it.py"
    script.write_text(SCRIPT)
    data = tmp_path / "data"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "server.log").open("wb")
    # A session of its own: the children it spawned (which never start) go with it at the end.
    proc = subprocess.Popen(
        [sys.executable, str(script), str(data), str(port)], stdout=log, stderr=log,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 60, what="the scripted server to answer")
        settings = Settings(data_dir=data)
        engine = make_engine(settings.resolved_database_url)
        users = UserService(Repo(engine), server_secret(settings))
        users.add_user("scripted")
        token = users.mint_token("scripted")
        engine.dispose()

        class Remote:
            def client(self, _user: str) -> httpx.Client:
                return httpx.Client(base_url=url, headers={"Authorization": token}, timeout=60)

        up_ = Uploader(Remote())  # type: ignore[arg-type]
        try:
            pid = up_.product([band("blue")])
            data_px = np.arange(32 * 32, dtype="uint16").reshape(32, 32)
            up_.upload(pid, write_geotiff(tmp_path / "blue.tif", data_px))
            result = up_.wait(pid, "blue.tif")
            assert result["status"] == "SUCCESS", result["logs"]
            assert up_.image(pid, "blue") is not None
        finally:
            up_.close()
        assert "__main__" in (tmp_path / "server.log").read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
        with contextlib.suppress(ProcessLookupError):  # a child that ignored SIGTERM
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()

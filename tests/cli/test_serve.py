"""`rastercat serve` on a fresh machine: one command, then `rc.Catalog()` works with no set-up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx

from helpers import wait_for

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_then_sdk_with_no_setup(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASTERCAT_")} | {
        "HOME": str(tmp_path / "home"),
        "RASTERCAT_CREDENTIALS": str(tmp_path / "cred.json"),
    }
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [
            str(BIN / "rastercat"),
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data),
            "--workers",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert f"http://127.0.0.1:{port}" in first  # it prints its URL
        wait_for(lambda: _healthy(port), timeout=60, interval=0.1, what="rastercat serve to answer")
        assert (data / "catalog.db").exists() and (data / "secret.key").exists()
        # Bound to 127.0.0.1: the viewer in a browser on this machine signs in by itself.
        local = httpx.get(f"http://127.0.0.1:{port}/viewer/v1/local-token", timeout=10)
        assert local.status_code == 200, local.text
        me = httpx.get(
            f"http://127.0.0.1:{port}/whoami", headers={"Authorization": local.json()["token"]}
        )
        assert me.json()["name"] == "local"
        # A script on the same machine: no URL, no token, only what serve saved.
        script = textwrap.dedent(
            """
            import rastercat as rc
            c = rc.Catalog()
            pid = c.add_product("first", title="First", description="from a fresh install")["data"]["id"]
            print(pid)
            print(c.get_product(pid)["data"]["attributes"]["title"])
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        pid, title = out.stdout.split()
        assert pid.endswith(":first") and title == "First"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False

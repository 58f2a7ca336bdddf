"""`rastercat serve` (and TiTiler, the tile peer) as separate processes on 127.0.0.1, for the load
benchmarks: the server under test runs exactly as a user starts it, with its defaults.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

BENCH_CACHE = Path.home() / ".cache" / "rastercat-bench"
TITILER_VENV = BENCH_CACHE / "titiler-venv"
#: TiTiler's documented GDAL settings for serving COGs.
TITILER_ENV = {
    "GDAL_CACHEMAX": "200",
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "VSI_CACHE": "TRUE",
    "GDAL_BAND_BLOCK_CACHE": "HASHSET",
}
TITILER_APP = """\
from fastapi import FastAPI
from titiler.core.factory import TilerFactory

app = FastAPI()
app.include_router(TilerFactory().router)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise TimeoutError(url)


def start_rastercat(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """``rastercat serve`` with its defaults; returns (process, base URL, the local user's token)."""
    port = free_port()
    exe = Path(sys.executable).with_name("rastercat")
    env = {**os.environ, "HOME": str(data_dir)}  # its saved credentials stay in the temp folder
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--data-dir", str(data_dir),
         "--log-level", "warning"],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/", proc)
    token = json.loads((data_dir / "local-credentials.json").read_text())["token"]
    return proc, url, str(token)


def ensure_titiler() -> Path:
    """A separate virtual environment with ``titiler-core`` and uvicorn (made once, then reused)."""
    py = TITILER_VENV / "bin" / "python"
    if not py.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TITILER_VENV)], check=True)
    check = [str(py), "-c", "import titiler.core, uvicorn"]
    if subprocess.run(check, capture_output=True).returncode != 0:
        pip = [str(py), "-m", "pip", "install", "-q", "titiler-core", "uvicorn"]
        subprocess.run(pip, check=True)
    (BENCH_CACHE / "titiler_app.py").write_text(TITILER_APP)
    return py


def start_titiler(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    py = ensure_titiler()
    port = free_port()
    proc = subprocess.Popen(
        [str(py), "-m", "uvicorn", "titiler_app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"],
        cwd=BENCH_CACHE, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        env={**os.environ, **TITILER_ENV},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/openapi.json", proc)
    return proc, url


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def memory(pid: int) -> dict[str, float]:
    """A process's resident memory in MiB from ``/proc``: ``VmRSS`` in all, of which ``RssAnon``
    (its own heap and stacks) and ``RssFile`` (pages of mapped files, such as a SQLite catalog
    read through ``mmap``: page cache the kernel may take back), and ``Threads`` (a count)."""
    out = {"VmRSS": float("nan"), "RssAnon": float("nan"), "RssFile": float("nan"),
           "Threads": float("nan")}  # fmt: skip
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in out:
            number = float(value.split()[0])
            out[key] = number if key == "Threads" else number / 1024
    return out

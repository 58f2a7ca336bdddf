"""`rastercat demo` and `rastercat serve --demo` against live servers: a sample product made once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import rasterio
from click.testing import CliRunner

from helpers import wait_for
from rastercat.cli.demo import DEMO_PRODUCT, ensure_demo
from rastercat.cli.main import cli
from rastercat.client.auth import namespace_of
from rastercat.client.catalog import Catalog

BIN = Path(sys.executable).parent
BANDS = ["blue", "green", "red", "nir", "alpha"]


def _demo(live_server: Any, user: str, *args: str) -> Any:
    env = {"RASTERCAT_URL": live_server.url, "RASTERCAT_TOKEN": live_server.token(user)}
    return CliRunner().invoke(cli, ["demo", *args], env=env)


def _images(client: httpx.Client, pid: str) -> list[dict[str, Any]]:
    body = {"products": [pid], "limit": 100}
    return client.post("/metadata/v1/search", json=body).json()  # a list of features


def test_demo_creates_the_product_once(live_server: Any) -> None:
    user = "demo-user"
    first = _demo(live_server, user)
    assert first.exit_code == 0, first.output
    pid = f"{namespace_of(user)}:{DEMO_PRODUCT}"
    assert f"demo product: {pid}" in first.output
    assert f"viewer: {live_server.url}/" in first.output
    assert first.output.count("uploaded ") == 6

    client = live_server.client(user)
    product = client.get(f"/metadata/v1/catalog/products/{pid}").json()["data"]["attributes"]
    assert product["owners"] == [f"user:{namespace_of(user)}"]
    bands = client.get(f"/metadata/v1/bands/all/{pid}").json()
    assert sorted(b["name"] for b in bands.values()) == sorted(BANDS)
    images = _images(client, pid)
    assert len(images) == 6
    assert sorted({f["properties"]["acquired"][:10] for f in images}) == [
        "2024-04-20", "2024-06-25", "2024-09-10",
    ]  # fmt: skip
    for feature in images:
        stats = feature["properties"]["statistics"]
        assert [(s["srcfile"], s["srcband"]) for s in stats] == [(0, i) for i in range(1, 6)]
        blue, nir, alpha = stats[0], stats[3], stats[4]
        assert 100 < blue["p2"] < blue["p98"] < 3000 and blue["stddev"] > 50  # a landscape
        assert nir["max"] > blue["max"]  # vegetation is bright in the near infrared
        assert alpha["min"] == alpha["max"] == 1  # statistics cover the valid pixels only

    again = _demo(live_server, user)
    assert again.exit_code == 0, again.output
    assert "uploaded" not in again.output and "created" not in again.output
    assert f"demo product: {pid}" in again.output
    assert len(_images(client, pid)) == 6
    uploads = client.post(f"/metadata/v1/catalog/products/{pid}/uploads", json={}).json()
    assert len(uploads["data"]) == 6  # nothing was sent twice


def test_demo_completes_what_is_missing(live_server: Any, tmp_path: Path) -> None:
    user = "demo-partial"
    assert _demo(live_server, user, "--quiet").exit_code == 0
    pid = f"{namespace_of(user)}:{DEMO_PRODUCT}"
    client = live_server.client(user)
    gone = "2024-06-25-east"
    assert client.delete(f"/metadata/v1/catalog/products/{pid}/images/{gone}").status_code < 300

    out = _demo(live_server, user, "--quiet", "--files", str(tmp_path / "files"))
    assert out.exit_code == 0, out.output
    assert out.output.strip() == pid  # --quiet: the id alone, for scripts
    assert len(_images(client, pid)) == 6
    east = client.get(f"/metadata/v1/catalog/products/{pid}/images/{gone}").json()["data"]
    west = client.get(f"/metadata/v1/catalog/products/{pid}/images/2024-06-25-west").json()
    assert east["attributes"]["acquired"].startswith("2024-06-25")
    # The east image is the edge of a swath: its alpha cuts a corner off the footprint.
    lon = np.array(east["attributes"]["geometry"]["coordinates"][0])[:, 0]
    west_lon = np.array(west["data"]["attributes"]["geometry"]["coordinates"][0])[:, 0]
    assert np.ptp(lon) < np.ptp(west_lon)

    files = sorted((tmp_path / "files").iterdir())
    assert [f.stem for f in files] == sorted(f"{d}-{s}" for d in (
        "2024-04-20", "2024-06-25", "2024-09-10") for s in ("east", "west"))  # fmt: skip
    assert sum(f.stat().st_size for f in files) < 4 * 2**20  # a few MB at most
    with rasterio.open(files[0]) as ds:
        assert ds.count == 5 and ds.dtypes[0] == "uint16" and ds.crs.to_epsg() == 32643


def test_two_demo_runs_at_once_make_one_product(live_server: Any) -> None:
    user = "demo-race"
    token = live_server.token(user)

    def run() -> str:
        with Catalog(live_server.url, token) as catalog:
            return ensure_demo(catalog, lambda _line: None, timeout=240)

    with ThreadPoolExecutor(2) as pool:
        ids = list(pool.map(lambda _: run(), range(2)))
    pid = f"{namespace_of(user)}:{DEMO_PRODUCT}"
    assert ids == [pid, pid]
    client = live_server.client(user)
    assert len(client.get(f"/metadata/v1/bands/all/{pid}").json()) == 5
    keys = sorted(f["id"].rsplit(":", 1)[1] for f in _images(client, pid))
    assert len(keys) == 6 and len(set(keys)) == 6


def test_demo_without_a_server_says_so(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"RASTERCAT_URL": f"http://127.0.0.1:{port}", "RASTERCAT_TOKEN": "a.b.c"}
    out = CliRunner().invoke(cli, ["demo"], env=env)
    assert out.exit_code != 0 and "Traceback" not in out.output


def test_serve_demo_makes_the_product_for_the_local_user(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASTERCAT_")} | {
        "HOME": str(tmp_path / "home"),
        "RASTERCAT_CREDENTIALS": str(tmp_path / "cred.json"),
    }
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "rastercat"), "serve", "--demo", "--port", str(port),
         "--data-dir", str(tmp_path / "data"), "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        import json

        token = wait_for(
            lambda: (
                (tmp_path / "cred.json").exists()
                and json.loads((tmp_path / "cred.json").read_text())["token"]
            ),
            timeout=60,
            what="serve to save the local user's token",
        )
        pid = f"{namespace_of('local')}:{DEMO_PRODUCT}"
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                body = {"products": [pid], "limit": 100}
                r = httpx.post(f"{url}/metadata/v1/search", json=body,
                               headers={"Authorization": token}, timeout=10)  # fmt: skip
            except httpx.HTTPError:
                return False
            return r.status_code == 200 and len(r.json()) == 6

        wait_for(ready, timeout=240, interval=0.5, what="the demo product's six images")
        wait_for(
            lambda: "is ready" in (tmp_path / "serve.log").read_text(),
            timeout=30,
            what="serve to print that the demo is ready",
        )
        assert (
            f"demo: product {pid} is ready; viewer: {url}/" in (tmp_path / "serve.log").read_text()
        )
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

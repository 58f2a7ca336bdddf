"""A large upload through the SDK, in a subprocess killed with SIGKILL at random points and then
run again: it ends with SUCCESS, the stored pixels and the recorded SHA-256 are the file's, nothing
is left behind, and no part the client had acknowledged is sent again.

The file is ``RASTERCAT_TEST_RESUMABLE_MIB`` MiB (CI: 64 MiB, in 1 MiB parts).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from _resumable_helpers import CAT, make_product

from helpers import wait_for
from rastercat.store.sql.repo import t

SCRIPT = Path(__file__).with_name("upload_script.py")
PART = 2**20
PARALLEL = 4


def _run(server: Any, pid: str, path: Path, state_dir: Path) -> subprocess.Popen[str]:
    args = [sys.executable, str(SCRIPT), server.url, server.token("alice"), pid, str(path),
            str(state_dir), str(PART), str(PARALLEL)]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _acked(state_dir: Path) -> set[int]:
    states = list(state_dir.glob("*.json"))
    if not states:
        return set()
    return set(json.loads(states[0].read_text()).get("acked", []))


def test_killed_uploads_resume_to_success(server_factory: Any, large_tif: Path,
                                          tmp_path: Path) -> None:  # fmt: skip
    server = server_factory()
    pid = make_product(server)
    service = server.state.multipart
    state_dir = tmp_path / "state"
    size = large_tif.stat().st_size
    parts = -(-size // PART)
    rng = random.Random()
    # Kill points: after random numbers of parts stored, in increasing order.
    points = sorted(rng.sample(range(2, parts - 2), 3))
    kills = 0
    protected: dict[int, int] = {}  # part -> times stored when the client had acknowledged it
    for point in points:
        proc = _run(server, pid, large_tif, state_dir)
        try:
            wait_for(lambda p=point, pr=proc: sum(service.received.values()) >= p or pr.poll() is not None,
                     120, what=f"{point} parts to arrive")  # fmt: skip
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        kills += 1
        counts = Counter({n: c for (_, n), c in service.received.items()})
        for n in _acked(state_dir):
            protected[n] = counts[n]
    proc = _run(server, pid, large_tif, state_dir)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    status, sha = out.split()
    assert status == "SUCCESS"
    whole = hashlib.sha256(large_tif.read_bytes()).hexdigest()
    assert sha == whole

    # Every part arrived; an acknowledged part was never stored again; few parts were sent twice
    # at all (only those in flight, stored but unheard of, when a kill came).
    counts = Counter({n: c for (_, n), c in service.received.items()})
    assert set(counts) == set(range(1, parts + 1))
    assert all(counts[n] == c for n, c in protected.items()), (protected, counts)
    assert sum(counts.values()) <= parts + kills * PARALLEL

    # The upload result records the file's SHA-256; the stored pixels are the source's.
    c = server.client("alice")
    doc = c.get(f"{CAT}/products/{pid}/uploads/large.tif").json()["data"]["attributes"]
    assert doc["status"] == "SUCCESS" and doc["sha256"] == whole and doc["file_size"] == size
    image = server.state.repo.one(t.images, product_id=pid, key="large")
    objects = server.state.objects
    with rasterio.open(objects.gdal_path(image["storage_key"])) as stored, rasterio.open(large_tif) as src:  # fmt: skip
        step = 2048
        for y in range(0, src.height, step):
            w = rasterio.windows.Window(0, y, src.width, min(step, src.height - y))
            assert np.array_equal(stored.read(1, window=w), src.read(1, window=w))

    # Nothing left behind: no parts, no temporaries, no raw upload, no client state.
    data = server.settings.data_dir
    leftovers = [
        p for sub in ("multipart", "incoming") for p in (data / sub).rglob("*") if p.is_file()
    ]
    assert leftovers == []
    wait_for(lambda: not [k for k in objects.list("uploads")], 10, what="the raw upload to go")
    assert list(state_dir.glob("*")) == []
    assert not os.listdir(data / "multipart")

"""The scale-out layout as real processes: two ``rastercat serve --no-workers`` API replicas and two
``rastercat worker`` processes on PostgreSQL, Redis and an S3 endpoint (moto), configured only by
environment variables, each with a data directory of its own (nothing shared but the services).

Uploads go straight to the bucket through presigned URLs; the workers notice them, ingest them and
the image records appear in the database that both replicas serve.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from helpers import wait_for, write_geotiff
from rastercat.config import IngestSettings, S3Settings, Settings
from rastercat.store.sql.repo import t

CAT = "/metadata/v1/catalog"
BAND = {"name": "b1", "srcband": 1, "dtype": "UInt16", "nbits": 16, "data_range": [0, 10000],
        "type": "spectral"}  # fmt: skip
EXE = str(Path(sys.executable).with_name("rastercat"))
NICE = 7
"""``ingest.nice`` of the cluster's workers."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    env: dict[str, str]
    settings: Settings
    apis: list[str] = field(default_factory=list)
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    """Worker processes by data directory."""
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, name: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
        data = self.root / name
        log = (self.root / f"{name}.log").open("ab")
        env = {**self.env, "RASTERCAT_DATA_DIR": str(data), "HOME": str(self.root / "home")}
        # A session of its own: a "machine" is killed as a whole process group.
        proc = subprocess.Popen([EXE, *args], env=env, stdout=log, stderr=log,
                                start_new_session=True)  # fmt: skip
        self.procs.append(proc)
        return proc, data

    def start_api(self, name: str) -> str:
        port = _free_port()
        proc, _ = self.spawn(name, "serve", "--no-workers", "--port", str(port),
                             "--log-level", "warning")  # fmt: skip
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert proc.poll() is None, f"{name} exited: see {self.root / name}.log"
            try:
                return httpx.get(f"{url}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 60, what=f"{name} to answer")
        self.apis.append(url)
        return url

    def start_worker(self, name: str) -> None:
        proc, data = self.spawn(name, "worker", "--concurrency", "2", "--lease", "3",
                                "--sweep-interval", "1", "--log-level", "warning")  # fmt: skip
        self.workers[str(data)] = proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture(scope="module")
def cluster(pg_databases: Any, s3_endpoint: str, redis_url: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:  # fmt: skip
    import redis

    from rastercat.store.s3 import S3ObjectStore

    # A Redis database of this module's own: no other test's worker consumes these messages.
    number = (int(redis_url.rsplit("/", 1)[1]) + random.randint(1, 14)) % 16
    broker = f"{redis_url.rsplit('/', 1)[0]}/{number}"
    redis.Redis.from_url(broker).flushdb()
    s3 = S3Settings(bucket=f"rc-{uuid.uuid4().hex[:12]}", prefix="cat/", endpoint_url=s3_endpoint,
                    region="us-east-1", access_key_id="testing", secret_access_key="testing")  # fmt: skip
    S3ObjectStore(s3).ensure_bucket()
    root = tmp_path_factory.mktemp("cluster")
    secret = uuid.uuid4().hex
    settings = Settings(
        data_dir=root / "tests", database_url=pg_databases.create(), secret=secret, s3=s3,
        ingest=IngestSettings(queue="celery", broker_url=broker, arrival_interval=0.3),
    )  # fmt: skip
    env = {
        **os.environ,
        "RASTERCAT_DATABASE_URL": str(settings.database_url),
        "RASTERCAT_SECRET": secret,
        "RASTERCAT_INGEST__QUEUE": "celery",
        "RASTERCAT_INGEST__BROKER_URL": broker,
        "RASTERCAT_INGEST__ARRIVAL_INTERVAL": "0.3",
        "RASTERCAT_INGEST__NICE": str(NICE),
        "RASTERCAT_S3__BUCKET": str(s3.bucket),
        "RASTERCAT_S3__PREFIX": s3.prefix,
        "RASTERCAT_S3__ENDPOINT_URL": s3_endpoint,
        "RASTERCAT_S3__REGION": "us-east-1",
        "RASTERCAT_S3__ACCESS_KEY_ID": "testing",
        "RASTERCAT_S3__SECRET_ACCESS_KEY": "testing",
        "RASTERCAT_CREDENTIALS": str(root / "credentials.json"),
    }
    c = Cluster(root, env, settings)
    try:
        # Started together: migrations and the local user are settled among the processes.
        for i in (1, 2):
            c.start_worker(f"worker{i}")
        for i in (1, 2):
            c.start_api(f"api{i}")
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def state(cluster: Cluster) -> Iterator[Any]:
    """This test's own view of the shared database (and the same secret, to mint tokens)."""
    from rastercat.api.state import AppState

    st = AppState.open(cluster.settings)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture(scope="module")
def alice(state: Any) -> dict[str, str]:
    state.users.ensure_user("alice")
    return {"Authorization": state.users.mint_token("alice")}


def new_product(api: str, headers: dict[str, str]) -> str:
    pid = f"proc-{uuid.uuid4().hex[:8]}"
    r = httpx.post(f"{api}{CAT}/products", headers=headers,
                   json={"id": pid, "title": "T", "description": "D"})  # fmt: skip
    assert r.status_code == 201, r.text
    pid = r.json()["data"]["id"]
    r = httpx.post(f"{api}{CAT}/products/{pid}/bands", headers=headers, json=BAND)
    assert r.status_code == 201, r.text
    return str(pid)


def upload(api: str, headers: dict[str, str], pid: str, path: Path) -> str:
    """The two-step protocol, exactly as the descarteslabs client makes it; returns the URL."""
    r = httpx.post(f"{api}{CAT}/products/{pid}/images/upload/{path.name}", headers=headers,
                   json={"process_controls": {"upload_type": "file"}}, timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text
    url = r.text
    put = httpx.put(url, content=path.read_bytes(), timeout=30,
                    headers={"Content-Type": "application/octet-stream"})  # fmt: skip
    assert put.status_code == 200, put.text
    return url


def statuses(state: Any, pid: str) -> dict[str, int]:
    with state.repo.tx() as conn:
        rows = conn.execute(
            sa.select(t.uploads.c.status, sa.func.count())
            .where(t.uploads.c.product_id == pid)
            .group_by(t.uploads.c.status)
        ).all()
    return {r[0]: int(r[1]) for r in rows}


def test_200_concurrent_uploads_over_two_apis_end_as_200_images(
    cluster: Cluster, state: Any, alice: dict[str, str], tmp_path: Path
) -> None:
    n = 200
    pid = new_product(cluster.apis[0], alice)
    files = [
        write_geotiff(
            tmp_path / f"s{i:03d}.tif", np.full((1, 32, 32), i, dtype="uint16")
        )  # fmt: skip
        for i in range(n)
    ]
    with ThreadPoolExecutor(16) as pool:
        urls = list(pool.map(lambda i: upload(cluster.apis[i % 2], alice, pid, files[i]), range(n)))
    # The bytes went to the bucket, not through the API.
    assert all(u.startswith(cluster.settings.s3.endpoint_url or "") for u in urls)
    wait_for(lambda: statuses(state, pid).get("SUCCESS") == n, 80,
             what=f"{n} ingests (now {statuses(state, pid)})")  # fmt: skip
    assert statuses(state, pid) == {"SUCCESS": n}
    assert state.repo.count(t.images, t.images.c.product_id == pid) == n
    # Both replicas serve the same catalog; each image holds its own pixels.
    for k, api in enumerate(cluster.apis):
        key = f"s{k * 7:03d}"
        r = httpx.post(f"{api}/raster/v1/npz", headers=alice, timeout=30,
                       json={"ids": [f"{pid}:{key}"], "bands": ["b1"]})  # fmt: skip
        assert r.status_code == 200, r.text
        data = np.load(__import__("io").BytesIO(r.content))
        assert int(np.asarray(data[data.files[0]]).max()) == k * 7
    # Raw uploads are removed once ingested.
    from rastercat.store.s3 import S3ObjectStore

    assert list(S3ObjectStore(cluster.settings.s3).list("uploads")) == []


def test_a_killed_worker_machine_has_its_job_completed_by_the_other(
    cluster: Cluster, state: Any, alice: dict[str, str], tmp_path: Path
) -> None:
    pid = new_product(cluster.apis[1], alice)
    rng = np.random.default_rng(1)
    # Noise compresses slowly: the job runs long enough to be caught RUNNING.
    path = write_geotiff(tmp_path / "big.tif", rng.integers(0, 10000, (1, 3000, 3000), "uint16"))
    upload(cluster.apis[1], alice, pid, path)

    def running() -> tuple[dict[str, Any], str] | None:
        row = state.repo.one(t.uploads, product_id=pid)
        if row is None or row["status"] != "RUNNING":
            return None
        # Each attempt works in a folder of its own: work/<uid>.<attempt>
        owner = [d for d in cluster.workers if any((Path(d) / "work").glob(f"{row['uid']}.*"))]
        return (row, owner[0]) if owner else None

    wait_for(lambda: running() is not None, 60, what="the job to run in some worker")
    found = running()
    assert found is not None, "the job finished before it could be interrupted: make it slower"
    row, owner = found
    victim = cluster.workers.pop(owner)
    os.killpg(victim.pid, signal.SIGKILL)  # the machine dies: no acknowledgement, no heartbeat
    victim.wait(10)
    wait_for(lambda: statuses(state, pid).get("SUCCESS") == 1, 60,
             what=f"the other worker to finish the job ({statuses(state, pid)})")  # fmt: skip
    done = state.repo.one(t.uploads, uid=row["uid"])
    assert done["attempts"] >= 2
    assert state.repo.count(t.images, t.images.c.product_id == pid) == 1
    assert statuses(state, pid) == {"SUCCESS": 1}


def niceness_of(pid: int) -> int:
    """A process's niceness (field 19 of /proc/<pid>/stat, after the command in parentheses)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


def test_workers_convert_at_a_lower_priority_than_they_run(
    cluster: Cluster, state: Any, alice: dict[str, str], tmp_path: Path
) -> None:
    """Jobs convert in the Celery pool's children at ``ingest.nice`` above the worker's own
    niceness (the cluster's workers have 7); the worker's main process stays where it was."""
    import re

    own = os.nice(0)  # the workers were started from this process: they began at its niceness
    pid = new_product(cluster.apis[0], alice)
    upload(cluster.apis[0], alice, pid,
           write_geotiff(tmp_path / "nice.tif", np.ones((1, 64, 64), dtype="uint16")))  # fmt: skip
    wait_for(lambda: statuses(state, pid).get("SUCCESS") == 1, 60,
             what=f"the ingest ({statuses(state, pid)})")  # fmt: skip
    log = state.repo.one(t.uploads, product_id=pid)["log"]
    found = re.findall(r"converting in process (\d+) \(niceness (\d+)\)", log)
    assert [int(n) for _, n in found] == [min(19, own + NICE)], log
    for worker in cluster.workers.values():
        assert niceness_of(worker.pid) == own

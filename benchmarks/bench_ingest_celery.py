"""Ingest throughput of the scale-out layout with 1, 2 and 4 ``rastercat worker`` processes.

One ``rastercat serve --no-workers`` API, PostgreSQL + PostGIS, Redis and moto's S3 server (uploads
go straight to the bucket through presigned URLs). For each worker count: a fresh database, the same
files uploaded at once, timed from the first upload until every job is SUCCESS.

    python benchmarks/bench_ingest_celery.py                      # 48 files of 1024 x 1024 x 1
    python benchmarks/bench_ingest_celery.py --files 200 --size 2048 --workers 1 2 4 8

Needs PostgreSQL on 127.0.0.1:5432 (``RASTERCAT_TEST_PG``) and Redis on 127.0.0.1:6379
(``RASTERCAT_TEST_REDIS``), as the scale tests do. Each worker runs one job at a time
(``--concurrency 1``), so the numbers show how throughput grows with processes; on a machine with
fewer cores than workers it cannot grow past the core count.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import rasterio
from rasterio.transform import from_origin

CAT = "/metadata/v1/catalog"
BAND = {"name": "b1", "srcband": 1, "dtype": "UInt16", "nbits": 16, "data_range": [0, 10000],
        "type": "spectral"}  # fmt: skip
EXE = str(Path(sys.executable).with_name("rastercat"))
PG = os.environ.get("RASTERCAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("RASTERCAT_TEST_REDIS", "redis://127.0.0.1:6379")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_files(root: Path, n: int, size: int) -> list[Path]:
    rng = np.random.default_rng(0)
    files = []
    for i in range(n):
        path = root / f"f{i:04d}.tif"
        data = rng.integers(0, 10000, (1, size, size), dtype="uint16")
        with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1,
                           dtype="uint16", crs="EPSG:32633",
                           transform=from_origin(500000 + i * 10, 4000000, 10, 10)) as dst:  # fmt: skip
            dst.write(data)
        files.append(path)
    return files


def create_db() -> tuple[str, str]:
    import psycopg

    name = f"rastercat_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    return name, f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"


def drop_db(name: str) -> None:
    import psycopg

    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(n_workers: int, files: list[Path], s3_endpoint: str, root: Path) -> float:
    import redis

    from rastercat.config import S3Settings
    from rastercat.store.s3 import S3ObjectStore

    dbname, db_url = create_db()
    broker = f"{REDIS}/13"
    redis.Redis.from_url(broker).flushdb()
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    S3ObjectStore(S3Settings(bucket=bucket, endpoint_url=s3_endpoint, region="us-east-1",
                             access_key_id="testing", secret_access_key="testing")).ensure_bucket()  # fmt: skip
    secret = uuid.uuid4().hex
    env = {**os.environ, "RASTERCAT_DATABASE_URL": db_url, "RASTERCAT_SECRET": secret,
           "RASTERCAT_INGEST__QUEUE": "celery", "RASTERCAT_INGEST__BROKER_URL": broker,
           "RASTERCAT_INGEST__ARRIVAL_INTERVAL": "0.2", "RASTERCAT_S3__BUCKET": bucket,
           "RASTERCAT_S3__ENDPOINT_URL": s3_endpoint, "RASTERCAT_S3__REGION": "us-east-1",
           "RASTERCAT_S3__ACCESS_KEY_ID": "testing", "RASTERCAT_S3__SECRET_ACCESS_KEY": "testing",
           "RASTERCAT_CREDENTIALS": str(root / "credentials.json"), "HOME": str(root)}  # fmt: skip
    procs: list[subprocess.Popen[bytes]] = []
    log = (root / f"bench-{n_workers}.log").open("ab")

    def spawn(name: str, *args: str) -> None:
        e = {**env, "RASTERCAT_DATA_DIR": str(root / f"{n_workers}-{name}")}
        procs.append(subprocess.Popen([EXE, *args], env=e, stdout=log, stderr=log,
                                      start_new_session=True))  # fmt: skip

    port = free_port()
    api = f"http://127.0.0.1:{port}"
    try:
        spawn("api", "serve", "--no-workers", "--port", str(port), "--log-level", "warning")
        for i in range(n_workers):
            spawn(f"w{i}", "worker", "--concurrency", "1", "--log-level", "warning")
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the API did not start: see " + log.name)
            time.sleep(0.2)
        from rastercat.api.state import AppState
        from rastercat.config import Settings

        state = AppState.open(Settings(data_dir=root / "bench", database_url=db_url,
                                       secret=secret))  # fmt: skip
        state.users.ensure_user("bench")
        headers = {"Authorization": state.users.mint_token("bench")}
        r = httpx.post(f"{api}{CAT}/products", headers=headers,
                       json={"id": "bench", "title": "B", "description": "B"})  # fmt: skip
        pid = r.json()["data"]["id"]
        httpx.post(f"{api}{CAT}/products/{pid}/bands", headers=headers, json=BAND)
        time.sleep(3)  # let the workers connect to the broker before the clock starts

        def upload(path: Path) -> None:
            url = httpx.post(f"{api}{CAT}/products/{pid}/images/upload/{path.name}",
                             headers=headers, json={"process_controls": {"upload_type": "file"}},
                             timeout=60).text  # fmt: skip
            httpx.put(url, content=path.read_bytes(), timeout=60).raise_for_status()

        from rastercat.store.sql.repo import t

        start = time.perf_counter()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(upload, files))
        while state.repo.count(t.uploads, t.uploads.c.status == "SUCCESS") < len(files):
            if state.repo.count(t.uploads, t.uploads.c.status == "FAILURE"):
                raise SystemExit("an ingest failed: see " + log.name)
            time.sleep(0.1)
        elapsed = time.perf_counter() - start
        state.close()
        return elapsed
    finally:
        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        drop_db(dbname)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=48)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    s3_port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=s3_port, verbose=False)
    moto.start()
    try:
        with tempfile.TemporaryDirectory(prefix="rc-bench-celery-") as tmp:
            root = Path(tmp)
            files = make_files(root, args.files, args.size)
            print(f"{args.files} files of {args.size} x {args.size} x 1 UInt16 (noise), "
                  f"{os.cpu_count()} cores")  # fmt: skip
            base = None
            for n in args.workers:
                elapsed = run(n, files, f"http://127.0.0.1:{s3_port}", root)
                rate = args.files / elapsed
                base = base or rate
                print(f"{n} worker(s): {elapsed:6.1f} s  {rate:6.2f} files/s  x{rate / base:.2f}")
    finally:
        moto.stop()


if __name__ == "__main__":
    main()

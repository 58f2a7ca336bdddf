"""Resumable upload of one large file to S3 through rastercat, next to boto3's ``upload_file``.

Both send the same file to the same S3 endpoint (moto's server mode in its own process on
127.0.0.1), in the same run, alternating which goes first:

* rastercat: ``Catalog.upload_image`` with its default settings (16 MiB parts, 4 at once, a
  SHA-256 per part and for the whole file), through a rastercat API (uvicorn, in a process of its
  own) on S3 storage: a real S3 multipart upload whose parts go straight to the bucket through
  presigned URLs. The clock stops when the upload is complete (the ingest that follows is not part
  of the transfer; the server runs without workers).
* boto3: ``client.upload_file`` with the default ``TransferConfig`` (8 MiB parts, 10 threads).

    python benchmarks/bench_resumable.py --mib 2048 --repeat 3

Prints each time, the p50 of each (and of the client process's CPU time), and rastercat / boto3
(aim: <= 1.2). moto keeps objects in memory: a 2 GiB run needs a few GiB of RAM.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return proc


def write_file(path: Path, mib: int) -> None:
    """Incompressible bytes, written a MiB at a time."""
    block = os.urandom(2**20)
    with path.open("wb") as f:
        for i in range(mib):
            f.write(block[i % 256 :] + block[: i % 256])  # not one repeated MiB


def start_rastercat(data_dir: Path, s3: Any) -> tuple[subprocess.Popen[bytes], str, str]:
    """``rastercat``'s API in a process of its own (as in production: its work on each part URL
    does not share the uploading client's interpreter), without ingest workers."""
    from rastercat.api.state import AppState
    from rastercat.config import Settings

    secret = uuid.uuid4().hex
    port = free_port()
    env = {**os.environ, "RASTERCAT_DATA_DIR": str(data_dir), "RASTERCAT_SECRET": secret,
           "RASTERCAT_START_WORKERS": "false", "RASTERCAT_S3__BUCKET": s3.bucket,
           "RASTERCAT_S3__ENDPOINT_URL": s3.endpoint_url, "RASTERCAT_S3__REGION": s3.region,
           "RASTERCAT_S3__ACCESS_KEY_ID": "testing", "RASTERCAT_S3__SECRET_ACCESS_KEY": "testing"}  # fmt: skip
    settings = Settings(data_dir=data_dir, secret=secret, s3=s3, start_workers=False)
    state = AppState.open(settings)  # the database, migrated, and a user with a token
    state.users.ensure_user("bench")
    token = state.users.mint_token("bench")
    state.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "rastercat.api.app:create_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_for_port(port)
    return proc, url, token


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=2048, help="file size in MiB (default 2 GiB)")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    from rastercat.client.catalog import Catalog
    from rastercat.config import S3Settings, UploadClientSettings
    from rastercat.store.s3 import S3ObjectStore, make_s3_client

    port = free_port()
    moto = start_moto(port)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-resumable-") as tmp:
            root = Path(tmp)
            s3 = S3Settings(bucket=f"bench-{uuid.uuid4().hex[:8]}", endpoint_url=f"http://127.0.0.1:{port}",
                            region="us-east-1", access_key_id="testing",
                            secret_access_key="testing")  # fmt: skip
            S3ObjectStore(s3).ensure_bucket()
            boto = make_s3_client(s3)
            path = root / "big.tif"
            write_file(path, args.mib)
            api, url, token = start_rastercat(root / "data", s3)
            catalog = Catalog(url=url, token=token)
            catalog.upload_settings = UploadClientSettings(state_dir=root / "state")
            r = catalog.post("/products", json={"id": "bench", "title": "T", "description": "D"})
            pid = r.json()["data"]["id"]

            def rastercat_upload(i: int) -> None:
                catalog.upload_image(
                    str(path), pid, metadata={"image_id": f"big{i}.tif"}, progress=False
                )

            def boto3_upload(i: int) -> None:
                boto.upload_file(str(path), s3.bucket, f"peer/big{i}.tif")

            times: dict[str, list[float]] = {"rastercat": [], "boto3": []}
            cpus: dict[str, list[float]] = {"rastercat": [], "boto3": []}
            for i in range(args.repeat):
                order = [("rastercat", rastercat_upload), ("boto3", boto3_upload)]
                for name, run in order if i % 2 == 0 else order[::-1]:
                    started, cpu = time.perf_counter(), _cpu()
                    run(i)
                    times[name].append(time.perf_counter() - started)
                    cpus[name].append(_cpu() - cpu)
                    # Free moto's memory (it keeps objects in RAM) before the next transfer.
                    for obj in boto.list_objects_v2(Bucket=s3.bucket).get("Contents", []):
                        boto.delete_object(Bucket=s3.bucket, Key=obj["Key"])
            catalog.close()
            api.terminate()
            api.wait(10)
    finally:
        moto.terminate()
        moto.wait(10)

    size = args.mib * 2**20
    print(f"file: {args.mib} MiB, S3: moto server on 127.0.0.1, runs: {args.repeat}")
    for name, values in times.items():
        shown = ", ".join(f"{v:.2f}" for v in values)
        p50 = statistics.median(values)
        cpu = statistics.median(cpus[name])
        print(f"{name:>9}: {shown} s  p50 {p50:.2f} s  ({size / p50 / 2**20:.0f} MiB/s; "
              f"client CPU p50 {cpu:.2f} s)")  # fmt: skip
    ratio = statistics.median(times["rastercat"]) / statistics.median(times["boto3"])
    print(f"rastercat / boto3 = {ratio:.2f}x (aim <= 1.2x)")


if __name__ == "__main__":
    main()

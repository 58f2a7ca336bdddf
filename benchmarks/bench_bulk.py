"""Image records in bulk, end to end: the SDK's ``Catalog.add_images`` over HTTP into a server on
SQLite, then on PostgreSQL + PostGIS (a throw-away database on 127.0.0.1:5432, skipped when it is
not running). Prints records per second (aim: >= 5,000/s), next to the peer a user would otherwise
use: one ``add_image`` POST per record, measured in the same run on a sample.

The database server (PostgreSQL) runs in its own processes, not counted in the CPU figure.
Records are typical: an id, an acquisition date, a small footprint polygon, a cloud fraction and two
extra properties (about 270 bytes of JSON each).

    python benchmarks/bench_bulk.py --records 50000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

PG = os.environ.get("RASTERCAT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def records(n: int, start: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        x, y = (i % 1000) / 100, (i // 1000) / 100
        ring = [[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]
        out.append(
            {
                "id": f"img-{i:08d}",
                "acquired": f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "cloud_fraction": (i % 100) / 100,
                "extra_properties": {"n": i, "tile": f"t{i % 97}"},
            }
        )
    return out


def start(data_dir: Path, database_url: str | None) -> tuple[Any, str, str]:
    import uvicorn

    from rastercat.api.app import create_app
    from rastercat.config import Settings

    settings = Settings(data_dir=data_dir, database_url=database_url, start_workers=False)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    users = app.state.rc.users
    users.ensure_user("bench")
    return server, url, users.mint_token("bench")


def measure(label: str, data_dir: Path, database_url: str | None, n: int, sample: int) -> None:
    from rastercat.client.catalog import Catalog

    server, url, token = start(data_dir, database_url)
    try:
        catalog = Catalog(url, token, timeout=600)
        pid = catalog.add_product("bulk-bench", title="T", description="D")["data"]["id"]
        batch = records(n)
        clock, cpu = time.perf_counter(), time.process_time()
        added = catalog.add_images(pid, batch)
        bulk_s = time.perf_counter() - clock
        # Client and server share this process: its CPU time is the whole pipeline's work, a
        # figure that a busy shared machine distorts less than the wall clock.
        bulk_cpu = time.process_time() - cpu
        assert added["meta"]["count"] == n
        one = records(sample, start=n)
        clock = time.perf_counter()
        for rec in one:
            catalog.add_image(pid, rec["id"], **{k: v for k, v in rec.items() if k != "id"})
        single_s = time.perf_counter() - clock
        bulk_rate, single_rate = n / bulk_s, sample / single_s
        print(
            f"{label:8s} bulk: {n} records in {bulk_s:.2f} s = {bulk_rate:,.0f} records/s "
            f"({n / bulk_cpu:,.0f} per CPU-second of client + server) | "
            f"one POST per record: {single_rate:,.0f} records/s ({sample} records) | "
            f"ratio {bulk_rate / single_rate:.1f}x"
        )
        catalog.close()
    finally:
        server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--sample", type=int, default=500, help="records sent one by one")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        measure("SQLite", Path(tmp) / "sqlite", None, args.records, args.sample)
    if args.no_pg:
        return
    try:
        import psycopg

        name = f"rastercat_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # no PostgreSQL here: the SQLite figure stands alone
        print(f"PostGIS: skipped ({exc})")
        return
    base = PG.rsplit("/", 1)[0]
    try:
        with psycopg.connect(f"{base}/{name}", autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        url = f"{base.replace('postgresql://', 'postgresql+psycopg://', 1)}/{name}"
        with tempfile.TemporaryDirectory() as tmp:
            measure("PostGIS", Path(tmp), url, args.records, args.sample)
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

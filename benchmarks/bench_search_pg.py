"""Search at scale in the service, without HTTP: SQLite next to PostgreSQL + PostGIS, same images,
same queries, same run.

N generated images (bench_search_shapes.py) go into a fresh SQLite file and a fresh PostgreSQL
database, both at the latest migration. Each of issue 16's four query shapes runs through
``MetadataService.search`` (SQL plus the exact checks; no HTTP, no JSON encoding), with the plan the
catalog chooses (``auto``) and with the spatial index forced (``spatial``). Prints p50/p99 per
shape, plan and database; bench_search.py measures the same over HTTP.

    python benchmarks/bench_search_pg.py --images 1000000 \\
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa
from bench_search_shapes import PLANS, interleaved, load, pct, shapes

from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.principal import Principal
from rastercat.store.sql.engine import make_engine, migrate
from rastercat.store.sql.repo import Repo, t

OWNER = Principal(user_pk=1, name="bench", sub="bench", namespace="ns")


def seed(repo: Repo, n: int) -> float:
    now = datetime.now(UTC)
    with repo.tx() as conn:
        repo.insert(t.products, dict(id="ns:bench", uid="benchuid", namespace="ns", attrs={},
                                     owners=[OWNER.user_principal], readers=[], writers=[],
                                     created=now, modified=now), conn)  # fmt: skip
    start = time.perf_counter()
    load(
        SimpleNamespace(engine=repo.engine, repo=repo),
        n,
        "ns:bench",
        "benchuid",
        OWNER.user_principal,
    )
    return time.perf_counter() - start


def run(svc: MetadataService, bodies: list[dict]) -> tuple[list[float], float]:
    times, found = [], 0
    for body in bodies:
        start = time.perf_counter()
        rows, _ = svc.search(OWNER, body)
        times.append((time.perf_counter() - start) * 1000)
        found += len(rows)
    return times, found / len(bodies)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument(
        "--queries", type=int, default=100, help="searches per shape, plan and database"
    )
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="An admin URL: a database rastercat_bench_<hex> is created and dropped.")  # fmt: skip
    args = ap.parse_args()
    bodies = shapes(args.queries + 10)

    tmp = Path(tempfile.mkdtemp(prefix="rc-bench-pg-"))
    lite = Repo(make_engine(f"sqlite:///{tmp / 'catalog.db'}"))
    migrate(lite.engine)
    admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
    name = f"rastercat_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    pg = Repo(make_engine(args.pg.rsplit("/", 1)[0] + "/" + name))
    try:
        migrate(pg.engine)
        for label, repo in (("sqlite", lite), ("postgis", pg)):
            secs = seed(repo, args.images)
            print(f"{label}: {args.images:,} images loaded in {secs:.0f} s")
            svc = MetadataService(repo)
            for shape, qs in bodies.items():
                run(svc, qs[:10])  # warm-up
                times, found = interleaved(repo, lambda b, s=svc: run(s, [b]), qs[10:])
                line = f"  {shape:<26}"
                for plan in PLANS:
                    line += f"  {plan}: p50 {pct(times[plan], 50):6.2f} ms  p99 {pct(times[plan], 99):6.2f} ms"
                print(f"{line}  ({found:.0f} results/search)", flush=True)
    finally:
        lite.engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
        pg.engine.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

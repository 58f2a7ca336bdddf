"""Search at scale on PostgreSQL + PostGIS next to SQLite, in the same run, with the same queries.

N generated images (random 0.1-1 degree footprints over the land-ish world, dates over ten years) go
into a fresh SQLite file and a fresh PostgreSQL database, both at the latest migration. Each query is
the SQL the Metadata service issues for a search page: product + date range + bbox candidates through
``Repo.spatial_clause``, joined to products, first 100 by acquisition date. Prints p50/p95 per store.

    python benchmarks/bench_search_pg.py --images 1000000 \\
        --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from rastercat.store.sql.engine import make_engine, migrate
from rastercat.store.sql.repo import Repo, rtree_time, t

T0 = datetime(2015, 1, 1, tzinfo=UTC).timestamp()
SPAN = 10 * 365 * 86400


def rows(n: int, seed: int) -> list[tuple[float, float, float, float, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x, y, size = rng.uniform(-170, 169), rng.uniform(-60, 69), rng.uniform(0.1, 1.0)
        out.append((x, y, x + size, y + size, T0 + rng.random() * SPAN))
    return out


def seed_product(repo: Repo) -> str:
    now = datetime.now(UTC)
    with repo.tx() as conn:
        repo.insert(t.products, dict(id="bench", uid="benchuid", namespace="ns", attrs={},
                                     owners=["user:b"], readers=[], writers=[], created=now,
                                     modified=now), conn)  # fmt: skip
    return "benchuid"


def load_sqlite(repo: Repo, data: list) -> None:
    now = datetime.now(UTC).isoformat(sep=" ")
    with repo.engine.begin() as conn:
        raw = conn.connection.driver_connection
        raw.executemany(
            "INSERT INTO images (pk, id, product_uid, product_id, key, attrs, owners, readers, writers,"
            " acquired, minx, miny, maxx, maxy, created, modified) VALUES"
            " (?, ?, 'benchuid', 'bench', ?, '{}', '[]', '[]', '[]', ?, ?, ?, ?, ?, ?, ?)",
            ((i + 1, f"bench:{i}", str(i), r[4], r[0], r[1], r[2], r[3], now, now)
             for i, r in enumerate(data)),
        )  # fmt: skip
        raw.executemany(
            "INSERT INTO images_rtree VALUES (?,?,?,?,?,?,?)",
            (
                (i + 1, r[0], r[2], r[1], r[3], rtree_time(r[4]), rtree_time(r[4]))
                for i, r in enumerate(data)
            ),  # fmt: skip
        )


def load_postgres(repo: Repo, data: list) -> None:
    now = datetime.now(UTC).isoformat()
    buf = io.StringIO()
    for i, r in enumerate(data):
        buf.write(f"bench:{i}\tbenchuid\tbench\t{i}\t{{}}\t[]\t[]\t[]\t{r[4]}\t{r[0]}\t{r[1]}\t"
                  f"{r[2]}\t{r[3]}\t{now}\t{now}\n")  # fmt: skip
    with repo.engine.begin() as conn:
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cols = ("id, product_uid, product_id, key, attrs, owners, readers, writers, acquired,"
                    " minx, miny, maxx, maxy, created, modified")  # fmt: skip
            with cur.copy(f"COPY images ({cols}) FROM STDIN") as copy:
                copy.write(buf.getvalue())
            cur.execute(
                "UPDATE images SET footprint = ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)"
            )
            cur.execute("ANALYZE images")


def queries(n: int, seed: int) -> list[tuple[tuple[float, float, float, float], float, float]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        x, y, size = rng.uniform(-170, 160), rng.uniform(-60, 60), rng.choice([0.5, 2, 10])
        lo = T0 + rng.random() * SPAN * 0.8
        out.append(((x, y, x + size, y + size), lo, lo + rng.choice([30, 365]) * 86400))
    return out


def run(repo: Repo, qs: list) -> list[float]:
    times = []
    for bbox, lo, hi in qs:
        stmt = (
            sa.select(t.images, t.products.c.owners.label("p_owners"))
            .select_from(t.images.join(t.products, t.images.c.product_uid == t.products.c.uid))
            .where(t.images.c.product_uid.in_(["benchuid"]), t.images.c.acquired >= lo,
                   t.images.c.acquired <= hi, repo.spatial_clause(bbox, lo, hi))
            .order_by(t.images.c.acquired, t.images.c.pk)
            .limit(100)
        )  # fmt: skip
        start = time.perf_counter()
        with repo.tx() as conn:
            conn.execute(stmt).all()
        times.append((time.perf_counter() - start) * 1000)
    return times


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[int(q) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="An admin URL: a database rastercat_bench_<hex> is created and dropped.")  # fmt: skip
    args = ap.parse_args()
    data = rows(args.images, 1)
    qs = queries(args.queries, 2)

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
        for label, repo, load in (("sqlite", lite, load_sqlite), ("postgis", pg, load_postgres)):
            seed_product(repo)
            start = time.perf_counter()
            load(repo, data)
            secs = time.perf_counter() - start
            run(repo, qs[:20])  # warm caches
            times = run(repo, qs)
            print(f"{label:8s} {args.images:>9,d} images  load {secs:6.1f} s "
                  f"({args.images / secs:>9,.0f} rows/s)  search p50 {pct(times, 50):7.2f} ms  "
                  f"p95 {pct(times, 95):7.2f} ms")  # fmt: skip
    finally:
        pg.engine.dispose()
        with admin.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

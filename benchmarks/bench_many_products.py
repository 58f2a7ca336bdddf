"""What a search costs as the catalog's products grow: other users' products, which the caller
cannot read, from 10 to 10,000, beside one product of the caller's with 1,000 images.

Each search is a 1-degree box, first 100 in date order, run in this process against the services
(no HTTP: the HTTP cost is the same at any size), and the listing of the caller's products. Neither
should grow with the products (until migration 0007 every search read and checked every product's
ACL: ~9 ms per 1,000; a listing read every product).

    python benchmarks/bench_many_products.py --products 10 1000 10000
    python benchmarks/bench_many_products.py --pg postgresql+psycopg://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from _pg import scratch_database
from bench_search_shapes import box, pct


def catalog(data: Path, url: str | None, products: int) -> tuple[Any, Any]:
    from rastercat.config import IngestSettings, Settings
    from rastercat.store.sql.repo import rtree_time, t, utcnow
    from rastercat.wiring import build

    settings = Settings(data_dir=data, database_url=url, ingest=IngestSettings(workers=1),
                        start_workers=False)  # fmt: skip
    state = build(settings, role="api")
    state.users.ensure_user("me")
    me = state.users.authenticate(state.users.mint_token("me"))
    now = utcnow()
    others = [{"id": f"other{i}:p", "uid": uuid.uuid4().hex, "namespace": f"other{i}",
               "attrs": {"title": "T"}, "owners": [f"user:other{i}"], "readers": [], "writers": [],
               "created": now, "modified": now} for i in range(products)]  # fmt: skip
    with state.engine.begin() as conn:
        conn.execute(sa.insert(t.products), others)
    pid = state.catalog.create_product(me, {"id": "mine", "title": "T", "description": "D"})["id"]
    uid = state.repo.one(t.products, id=pid)["uid"]
    images, rtree = [], []
    for i in range(1000):
        x, y, when = (i % 40) * 0.5, (i // 40) * 0.5, 1.5e9 + i * 3600.0
        images.append({"id": f"{pid}:i{i}", "product_uid": uid, "product_id": pid, "key": f"i{i}",
                       "attrs": {"geometry": box(x, y, 0.2)}, "owners": [me.user_principal],
                       "readers": [], "writers": [], "acquired": when, "minx": x, "miny": y,
                       "maxx": x + 0.2, "maxy": y + 0.2, "created": now, "modified": now})  # fmt: skip
        rtree.append((i + 1, x, x + 0.2, y, y + 0.2, rtree_time(when), rtree_time(when)))
    with state.engine.begin() as conn:
        result = conn.execute(sa.insert(t.images).returning(t.images.c.pk), images)
        pks = [r[0] for r in result]
        if state.repo.has_rtree:
            conn.exec_driver_sql("INSERT INTO images_rtree VALUES (?,?,?,?,?,?,?)",
                                 [(pk, *r[1:]) for pk, r in zip(pks, rtree, strict=True)])  # fmt: skip
        else:
            conn.exec_driver_sql(
                "UPDATE images SET footprint = ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)"
            )
    return state, me


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--products", type=int, nargs="+", default=[10, 1000, 10000])
    ap.add_argument("--searches", type=int, default=200)
    ap.add_argument("--pg", default=None, help="an admin URL: also on a PostGIS database made here")
    args = ap.parse_args()
    print(
        f"search: 1-degree box, first 100 by date; {args.searches} searches per row (p50/p99, ms)"
    )
    for products in args.products:
        with contextlib.ExitStack() as stack:
            sides: list[tuple[str, str | None]] = [("sqlite", None)]
            if args.pg:
                sides.append(("postgis", stack.enter_context(scratch_database(args.pg))))
            for label, url in sides:
                data = Path(tempfile.mkdtemp(prefix="rc-bench-products-"))
                state, me = catalog(data, url, products)
                listing = []
                for i in range(60):  # the caller's products, as GET .../products lists them
                    started = time.perf_counter()
                    listed = state.metadata.readable_products(me)
                    if i >= 10:
                        listing.append((time.perf_counter() - started) * 1000)
                times = []
                for i in range(args.searches + 10):
                    body = {"geom": box(1 + (i % 15), 1 + (i % 10), 1.0), "limit": 100}
                    started = time.perf_counter()
                    with state.repo.snapshot():
                        rows, _ = state.metadata.search(me, body)
                    if i >= 10:
                        times.append((time.perf_counter() - started) * 1000)
                print(f"  {label:<7} {products:>6,} other products: search p50 {pct(times, 50):6.2f}  "
                      f"p99 {pct(times, 99):6.2f}  ({len(rows)} results); the caller's products "
                      f"listed p50 {pct(listing, 50):6.2f} ({len(listed)})", flush=True)  # fmt: skip
                state.close()
                shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Search at scale: N generated images in the embedded SQLite catalog, queried over HTTP.

Query: bbox + date range + property filter, first 100 results (sorted by acquisition date), as the
Metadata client sends it. Prints p50/p95 over repeated random queries. The peer here is the same query
without the spatial index (the R*Tree disabled), measured in the same run on a sample.

    python benchmarks/bench_search.py --images 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa


def seed(state, n: int, rng: random.Random) -> str:
    from rastercat.store.sql.repo import rtree_time, t, utcnow

    state.users.ensure_user("bench")
    p = state.users.authenticate(state.users.mint_token("bench"))
    pid = state.catalog.create_product(p, {"id": "bench", "title": "T", "description": "D"})["id"]
    uid = state.repo.one(t.products, id=pid)["uid"]
    owners = [p.user_principal]
    t0 = datetime(2015, 1, 1, tzinfo=UTC).timestamp()
    span = 10 * 365 * 86400
    now = utcnow()
    batch, rt = [], []
    with state.engine.begin() as conn:
        start_pk = conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(t.images.c.pk), 0))
        ).scalar_one()
    pk = start_pk
    started = time.perf_counter()
    for i in range(n):
        pk += 1
        lon, lat = rng.uniform(-179, 178), rng.uniform(-80, 79)
        size = rng.uniform(0.05, 0.5)
        when = t0 + rng.random() * span
        geom = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size],
                                                    [lon, lat + size], [lon, lat]]]}  # fmt: skip
        attrs = {"acquired": datetime.fromtimestamp(when, UTC).isoformat(), "geometry": geom,
                 "cloud_fraction": round(rng.random(), 3), "key": f"i{i}"}  # fmt: skip
        batch.append({"pk": pk, "id": f"{pid}:i{i}", "product_uid": uid, "product_id": pid, "key": f"i{i}",
                      "attrs": attrs, "owners": owners, "readers": [], "writers": [], "acquired": when,
                      "minx": lon, "miny": lat, "maxx": lon + size, "maxy": lat + size,
                      "created": now, "modified": now})  # fmt: skip
        rt.append((pk, lon, lon + size, lat, lat + size, rtree_time(when), rtree_time(when)))
        if len(batch) == 20000 or i == n - 1:
            with state.engine.begin() as conn:
                conn.execute(sa.insert(t.images), batch)
                conn.exec_driver_sql(
                    "INSERT INTO images_rtree (pk, minx, maxx, miny, maxy, mint, maxt) VALUES (?,?,?,?,?,?,?)",
                    rt,
                )
            batch, rt = [], []
    rate = n / (time.perf_counter() - started)
    print(f"seeded {n} images at {rate:,.0f} rows/s")
    return pid


WORLD = json.dumps({"type": "Polygon", "coordinates": [[[-180, -90], [180, -90], [180, 90],
                                                       [-180, 90], [-180, -90]]]})  # fmt: skip


def _box(lon: float, lat: float, size: float) -> str:
    return json.dumps({"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat],
                       [lon + size, lat + size], [lon, lat + size], [lon, lat]]]})  # fmt: skip


def queries(rng: random.Random, n: int) -> list[dict]:
    """The issue's query: a 5 x 5 degree box, 18 months, a property filter, first 100."""
    out = []
    for _ in range(n):
        lon, lat = rng.uniform(-170, 160), rng.uniform(-70, 60)
        year = rng.randint(2015, 2023)
        out.append({"date": "acquired", "limit": 100, "sort_order": "asc", "geom": _box(lon, lat, 5),
                    "start_datetime": f"{year}-01-01", "end_datetime": f"{year + 1}-06-30",
                    "query_expr": {"and": [{"range": {"cloud_fraction": {"lt": 0.5}}}]}})  # fmt: skip
    return out


def other_shapes(rng: random.Random, n: int) -> dict[str, list[dict]]:
    """Queries of other proportions, which a badly scaled index serves far worse than the above:
    a field (0.2 degrees) over ten years, the whole world for a week, a region for a month."""
    shapes: dict[str, list[dict]] = {"0.2 deg x 10 years": [], "world x 1 week": [],
                                     "20 deg x 1 month": []}  # fmt: skip
    for _ in range(n):
        lon, lat = rng.uniform(-170, 140), rng.uniform(-70, 50)
        day = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(days=rng.randint(0, 9 * 365))
        shapes["0.2 deg x 10 years"].append(
            {
                "geom": _box(lon, lat, 0.2),
                "start_datetime": "2015-01-01",
                "end_datetime": "2025-01-01",
            }
        )
        shapes["world x 1 week"].append(
            {"geom": WORLD, "start_datetime": day.isoformat(), "end_datetime": (day + timedelta(days=7)).isoformat()}
        )  # fmt: skip
        shapes["20 deg x 1 month"].append(
            {"geom": _box(lon, lat, 20), "start_datetime": day.isoformat(),
             "end_datetime": (day + timedelta(days=30)).isoformat()}
        )  # fmt: skip
    for bodies in shapes.values():
        for body in bodies:
            body.update(limit=100, sort_order="asc")
    return shapes


def timeit(client: httpx.Client, bodies: list[dict]) -> tuple[list[float], int]:
    times, found = [], 0
    for body in bodies:
        t = time.perf_counter()
        r = client.post("/metadata/v1/search", json=body)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        found += len(r.json())
    return times, found


def pct(xs: list[float], q: float) -> float:
    return statistics.quantiles(xs, n=100)[q - 1] if len(xs) >= 2 else xs[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args()

    data = args.data_dir or Path(tempfile.mkdtemp(prefix="rastercat-bench-search-"))
    from _server import start_server

    app, url, _ = start_server(data, workers=1)
    state = app.state.rc
    rng = random.Random(42)
    from rastercat.store.sql import tables

    if state.repo.count(tables.images) < args.images:
        seed(state, args.images, rng)
    token = state.users.mint_token("bench")
    bodies = queries(random.Random(7), args.queries)
    with httpx.Client(base_url=url, headers={"Authorization": token}, timeout=120) as c:
        timeit(c, bodies[:10])  # warm-up
        times, found = timeit(c, bodies)
        print(
            f"rastercat search, {args.images:,} images, {len(bodies)} queries "
            f"(bbox 5x5 deg + 18 months + cloud_fraction<0.5, first 100): "
            f"p50 {pct(times, 50):.1f} ms  p95 {pct(times, 95):.1f} ms  ({found / len(bodies):.0f} results/query)"
        )
        for name, shaped in other_shapes(random.Random(11), max(20, args.queries // 4)).items():
            t_shape, n_shape = timeit(c, shaped)
            print(f"    {name:<20} p50 {pct(t_shape, 50):.1f} ms  p95 {pct(t_shape, 95):.1f} ms  "
                  f"({n_shape / len(shaped):.0f} results/query)")  # fmt: skip
        # Peer: the same queries with the spatial index hidden from the planner (bbox columns only).
        state.repo.__class__ = type(
            "NoRtree", (state.repo.__class__,), {"has_rtree": property(lambda self: False)}
        )
        sample = bodies[: max(5, len(bodies) // 10)]
        peer, _ = timeit(c, sample)
        print(
            f"without the R*Tree (bbox columns + date): p50 {pct(peer, 50):.1f} ms  p95 {pct(peer, 95):.1f} ms  "
            f"ratio p50 {pct(peer, 50) / pct(times, 50):.1f}x"
        )


if __name__ == "__main__":
    main()

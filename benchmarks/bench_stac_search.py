"""STAC item search against the Metadata search, same queries, same run, same catalog.

Both answer the issue's query (a 5 x 5 degree box, 18 months, cloud_fraction < 0.5, first 100, in
date order) over N generated images in the embedded SQLite catalog; STAC gets it as
``POST /stac/v1/search`` with ``bbox``, ``datetime`` and a CQL2 ``filter``. Prints p50/p95 of each
and the ratio (the goal: STAC p50 within 1.2x of the Metadata search).

    python benchmarks/bench_stac_search.py --images 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import httpx
from bench_search import pct, queries, seed


def to_stac(body: dict) -> dict:
    from shapely.geometry import shape

    minx, miny, maxx, maxy = shape(json.loads(body["geom"])).bounds
    return {"bbox": [minx, miny, maxx, maxy], "limit": body["limit"],
            "datetime": f"{body['start_datetime']}T00:00:00Z/{body['end_datetime']}T23:59:59Z",
            "filter": "cloud_fraction < 0.5", "filter-lang": "cql2-text"}  # fmt: skip


def timeit(
    client: httpx.Client, path: str, bodies: list[dict], key: str | None
) -> tuple[list[float], int]:
    times, found = [], 0
    for body in bodies:
        t = time.perf_counter()
        r = client.post(path, json=body)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        found += len(r.json()[key] if key else r.json())
    return times, found


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--data-dir", type=Path, default=None)
    args = ap.parse_args()

    data = args.data_dir or Path(tempfile.mkdtemp(prefix="rastercat-bench-stac-"))
    from _server import start_server

    app, url, _ = start_server(data, workers=1)
    state = app.state.rc
    from rastercat.store.sql import tables

    if state.repo.count(tables.images) < args.images:
        seed(state, args.images, random.Random(42))
    token = state.users.mint_token("bench")
    meta = queries(random.Random(7), args.queries)
    stac = [to_stac(b) for b in meta]
    with httpx.Client(base_url=url, headers={"Authorization": token}, timeout=120) as c:
        timeit(c, "/metadata/v1/search", meta[:10], None)  # warm-up
        timeit(c, "/stac/v1/search", stac[:10], "features")
        # Interleaved halves, so that neither side gets the warmer cache.
        t_meta, n_meta = timeit(c, "/metadata/v1/search", meta, None)
        t_stac, n_stac = timeit(c, "/stac/v1/search", stac, "features")
        t_meta2, _ = timeit(c, "/metadata/v1/search", meta, None)
        t_meta += t_meta2
    print(
        f"{args.images:,} images, {len(meta)} queries (bbox 5x5 deg + 18 months + cloud_fraction<0.5, first 100)"
    )
    print(
        f"  Metadata search  p50 {pct(t_meta, 50):.1f} ms  p95 {pct(t_meta, 95):.1f} ms  ({n_meta / len(meta):.0f} results/query)"
    )
    print(
        f"  STAC search      p50 {pct(t_stac, 50):.1f} ms  p95 {pct(t_stac, 95):.1f} ms  ({n_stac / len(stac):.0f} results/query)"
    )
    print(f"  ratio p50 {pct(t_stac, 50) / pct(t_meta, 50):.2f}x")


if __name__ == "__main__":
    main()

"""STAC item search against the Metadata search: same queries, same run, same catalogs, on SQLite
and on PostgreSQL + PostGIS.

N generated images (each with a stored file key, so every Item carries signed asset hrefs) are
loaded into an embedded SQLite catalog and into a PostGIS database that this script creates on
``--pg`` and drops at the end (``--no-pg`` for SQLite alone). One server per catalog, each
``rastercat serve`` in a process of its own (the load generator parses the larger STAC pages and
must not share the server's GIL; ``--in-process`` serves from this process instead). Each query is
sent as ``POST /metadata/v1/search`` and as ``POST /stac/v1/search`` (``bbox``, ``datetime``, and
for the issue's query a CQL2 ``filter``), the two back to back in alternating order and the two
catalogs interleaved, so that a busy machine slows both sides alike: compare the ratios. Prints
p50/p99 per query kind, side and catalog, and the STAC/Metadata ratio of the p50s (the goal: at
most 1.2x).

    python benchmarks/bench_stac_search.py --images 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from bench_search import serve_process
from bench_search_shapes import pct, shapes


def seed(state: Any, n: int, rng: random.Random) -> None:
    """``n`` images of one product ``bench`` (as benchmarks/bench_search.py, on either database)."""
    from rastercat.store.sql.repo import rtree_time, t, utcnow

    state.users.ensure_user("bench")
    p = state.users.authenticate(state.users.mint_token("bench"))
    pid = state.catalog.create_product(p, {"id": "bench", "title": "T", "description": "D"})["id"]
    uid = state.repo.one(t.products, id=pid)["uid"]
    t0, span, now = datetime(2015, 1, 1, tzinfo=UTC).timestamp(), 10 * 365 * 86400, utcnow()
    sqlite = state.repo.dialect == "sqlite"
    batch: list[dict] = []
    rt: list[tuple] = []
    started = time.perf_counter()
    for i in range(n):
        lon, lat = rng.uniform(-179, 178), rng.uniform(-80, 79)
        size, when = rng.uniform(0.05, 0.5), t0 + rng.random() * span
        geom = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + size, lat], [lon + size, lat + size],
                                                    [lon, lat + size], [lon, lat]]]}  # fmt: skip
        attrs = {"acquired": datetime.fromtimestamp(when, UTC).isoformat(), "geometry": geom,
                 "cloud_fraction": round(rng.random(), 3), "key": f"i{i}"}  # fmt: skip
        batch.append({"pk": i + 1, "id": f"{pid}:i{i}", "product_uid": uid, "product_id": pid,
                      "key": f"i{i}", "attrs": attrs, "owners": [p.user_principal], "readers": [],
                      "writers": [], "acquired": when, "minx": lon, "miny": lat,
                      "maxx": lon + size, "maxy": lat + size, "storage_key": f"images/{uid}/i{i}.tif",
                      "created": now, "modified": now})  # fmt: skip
        rt.append((i + 1, lon, lon + size, lat, lat + size, rtree_time(when), rtree_time(when)))
        if len(batch) == 20000 or i == n - 1:
            with state.engine.begin() as conn:
                conn.execute(sa.insert(t.images), batch)
                if sqlite:
                    conn.exec_driver_sql(
                        "INSERT INTO images_rtree (pk, minx, maxx, miny, maxy, mint, maxt) "
                        "VALUES (?,?,?,?,?,?,?)",
                        rt,
                    )
            batch, rt = [], []
    if not sqlite:
        with state.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE images SET footprint = ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)"
            )
        with state.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE images")
    print(
        f"  {state.repo.dialect}: seeded {n:,} images at {n / (time.perf_counter() - started):,.0f} rows/s"
    )


def start(data: Path, database_url: str | None) -> tuple[Any, Any, str]:
    import uvicorn

    from rastercat.api.app import create_app
    from rastercat.config import IngestSettings, Settings

    settings = Settings(data_dir=data, database_url=database_url, ingest=IngestSettings(workers=1))
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    return (
        app,
        (server, thread),
        f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}",
    )


def stop(servers: list[Any]) -> None:
    """Stop in-process servers (their app's shutdown stops its background work too)."""
    for server, _ in servers:
        server.should_exit = True
    for _, thread in servers:
        thread.join(timeout=60)
    servers.clear()


def _when(value: str) -> str:
    # The Metadata search reads a bare date as that day's midnight (UTC), at either end.
    return value if "T" in value else value + "T00:00:00Z"


def to_stac(body: dict) -> dict:
    from shapely.geometry import shape

    geom = body["geom"]
    minx, miny, maxx, maxy = shape(json.loads(geom) if isinstance(geom, str) else geom).bounds
    out = {"bbox": [minx, miny, maxx, maxy], "limit": body["limit"],
           "datetime": f"{_when(body['start_datetime'])}/{_when(body['end_datetime'])}"}  # fmt: skip
    if "query_expr" in body:  # the query: cloud_fraction < 0.5
        out.update({"filter": "cloud_fraction < 0.5", "filter-lang": "cql2-text"})
    return out


def post(client: httpx.Client, path: str, body: dict, key: str | None) -> tuple[float, int]:
    t = time.perf_counter()
    r = client.post(path, json=body)
    ms = (time.perf_counter() - t) * 1000
    r.raise_for_status()
    return ms, len(r.json()[key] if key else r.json())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=100, help="per query kind")
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="An admin URL: a database rastercat_bench_<hex> is created and dropped.")  # fmt: skip
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    ap.add_argument("--in-process", action="store_true",
                    help="serve from this process (uvicorn in a thread), not `rastercat serve`")  # fmt: skip
    args = ap.parse_args()

    kinds = shapes(args.queries)
    urls: dict[str, str | None] = {"sqlite": None}
    admin, name = None, f"rastercat_bench_{uuid.uuid4().hex[:8]}"
    if not args.no_pg:
        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        urls["postgis"] = args.pg.rsplit("/", 1)[0] + "/" + name
    apps: list[Any] = []
    procs: list[Any] = []
    try:
        clients = {}
        for label, db_url in urls.items():
            data = Path(tempfile.mkdtemp(prefix=f"rc-bench-stac-{label}-"))
            app, server, url = start(data, db_url)
            apps.append(server)
            seed(app.state.rc, args.images, random.Random(42))
            token = app.state.rc.users.mint_token("bench")
            if not args.in_process:  # the same catalog, served by `rastercat serve`
                stop([server])
                app.state.rc.engine.dispose()
                proc, url = serve_process(data, db_url)
                procs.append(proc)
            clients[label] = httpx.Client(
                base_url=url, headers={"Authorization": token}, timeout=120
            )
        where = "in this process" if args.in_process else "`rastercat serve`, a process each"
        times: dict[tuple[str, str, str], list[float]] = {}
        found: dict[tuple[str, str, str], int] = {}
        sides = (("metadata", "/metadata/v1/search", None), ("stac", "/stac/v1/search", "features"))
        for kind, bodies in kinds.items():
            for c in clients.values():  # warm-up
                for body in bodies[:5]:
                    (
                        post(c, sides[0][1], body, None),
                        post(c, sides[1][1], to_stac(body), "features"),
                    )
            for i, body in enumerate(bodies):
                order = sides if i % 2 == 0 else sides[::-1]
                for label, c in clients.items():
                    for side, path, key in order:
                        ms, n = post(c, path, to_stac(body) if side == "stac" else body, key)
                        times.setdefault((kind, label, side), []).append(ms)
                        found[(kind, label, side)] = found.get((kind, label, side), 0) + n
        print(f"{args.images:,} images, {args.queries} queries per kind, first 100 in date order, "
              f"over HTTP ({where})")  # fmt: skip
        for kind in kinds:
            for label in clients:
                m, s = times[(kind, label, "metadata")], times[(kind, label, "stac")]
                same = found[(kind, label, "metadata")] == found[(kind, label, "stac")]
                print(f"  {kind:30s} {label:8s} Metadata p50 {pct(m, 50):6.1f} p99 {pct(m, 99):6.1f} ms"
                      f" | STAC p50 {pct(s, 50):6.1f} p99 {pct(s, 99):6.1f} ms | ratio p50 "
                      f"{pct(s, 50) / pct(m, 50):.2f}x  ({found[(kind, label, 'stac')] / len(m):.0f}"
                      f" items/query{'' if same else ', COUNTS DIFFER'})")  # fmt: skip
    finally:
        stop(apps)  # stopped (their background work too) before a database is dropped
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=60)
        if admin is not None:
            with admin.connect() as c:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

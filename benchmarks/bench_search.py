"""Search at scale over HTTP: the four query shapes of issue 16 on SQLite and on PostgreSQL +
PostGIS, same images and same queries, in one run.

N generated images (bench_search_shapes.py) are loaded in bulk into the embedded SQLite catalog and
into a fresh PostgreSQL database (created and dropped here); a rastercat app serves each over HTTP
(uvicorn, one process). Each search is the Metadata client's: first 100 in date order. Prints p50 and
p99 per shape and database, for the plan the catalog chooses (``auto``) and, in the same run, with
the spatial index forced (``spatial``, the plan before the date-index walk existed). Then
``rastercat serve`` in a process of its own (the deployment) answers searches of the same shapes
that were never sent before (a new ``--seed`` every run, the same for both databases): the numbers
the README reports.

    python benchmarks/bench_search.py --images 1000000
    python benchmarks/bench_search.py --images 100000 --queries 50 --pg none   # SQLite only
    python benchmarks/bench_search.py --data-dir /tmp/s1m --pg-keep rc_bench_1m # load once, reuse
    python benchmarks/bench_search.py --data-dir /tmp/s1m --pg-keep rc_bench_1m --own-process-only
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _pg import kept_database, read_into_page_cache, scratch_database
from bench_search_shapes import PLANS, interleaved, load, pct, shapes


def serve(data: Path, database_url: str | None) -> tuple[Any, str, Any]:
    """``create_app`` under uvicorn in a thread, on 127.0.0.1 (as benchmarks/_server.py, plus a
    database URL)."""
    import threading

    import uvicorn

    from rastercat.api.app import create_app
    from rastercat.config import IngestSettings, Settings

    settings = Settings(data_dir=data, database_url=database_url, ingest=IngestSettings(workers=1),
                        start_workers=False)  # fmt: skip
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the server did not start")
        time.sleep(0.05)
    app.state.rc.users.ensure_user("bench")
    port = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:  # the app's shutdown stops its ingest workers before the database goes
        server.should_exit = True
        thread.join(timeout=60)

    return app, f"http://127.0.0.1:{port}", stop


def prepare(app: Any, n: int) -> str:
    """A product of n images (kept between runs of the same --data-dir); a token for its owner."""
    from rastercat.store.sql import tables as t

    state = app.state.rc
    token = state.users.mint_token("bench")
    p = state.users.authenticate(token)
    row = state.repo.one(t.products, id=f"{p.namespace}:bench")
    have = 0 if row is None else state.repo.count(t.images, t.images.c.product_uid == row["uid"])
    if have >= n:
        return token
    if row is None:
        pid = state.catalog.create_product(p, {"id": "bench", "title": "T", "description": "D"})[
            "id"
        ]
        row = state.repo.one(t.products, id=pid)
    elif have:
        raise SystemExit(
            f"the catalog holds {have:,} bench images, fewer than --images: use a fresh --data-dir"
        )
    started = time.perf_counter()
    load(state, n, row["id"], row["uid"], p.user_principal)
    print(f"  loaded {n:,} images in {time.perf_counter() - started:.0f} s")
    return token


def serve_process(data: Path, database_url: str | None) -> tuple[Any, str]:
    """``rastercat serve --no-workers`` in a process of its own on the same catalog (the
    deployment: the load generator does not share the server's GIL). Returns (process, URL)."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # `serve` on loopback saves a local sign-in token in the user's config: keep it in the temp data.
    env = {**os.environ, "XDG_CONFIG_HOME": str(data / "config")}
    if database_url:
        env["RASTERCAT_DATABASE_URL"] = database_url
    cmd = [sys.executable, "-c", "from rastercat.cli.main import cli; cli()", "serve", "--data-dir", str(data),
           "--port", str(port), "--no-workers", "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("rastercat serve did not start")
        time.sleep(0.2)


def warm_page_cache(data: Path, database_url: str | None) -> None:
    """The catalog's files read once into the operating system's page cache. Measured on the
    project's VM, the page cache had dropped the files between runs (``free``: 1.8 of 24 GB
    cached): the same new searches then took 6.6 / 3.7 / 6.7 / 5.1 ms on SQLite and 13.0 / 4.7 /
    13.2 / 15.0 ms on PostGIS instead of 4.3 / 3.1 / 4.2 / 3.5 and 3.9 / 2.0 / 3.9 / 3.7 ms: reads
    from the host's disk, which a server with the RAM for its catalog does not make."""
    started = time.perf_counter()
    if database_url is None:
        read = 0
        for name in ("catalog.db", "catalog.db-wal"):
            path = data / name
            if path.exists():
                with path.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        read += len(chunk)
    else:
        read = read_into_page_cache(database_url)
    print(f"  the catalog's files read into the page cache: {read / 2**20:,.0f} MiB in "
          f"{time.perf_counter() - started:.1f} s (--page-cache as-is to skip)", flush=True)  # fmt: skip


def timeit(client: httpx.Client, bodies: list[dict]) -> tuple[list[float], float]:
    times, found = [], 0
    for body in bodies:
        t = time.perf_counter()
        r = client.post("/metadata/v1/search", json=body)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        found += len(r.json())
    return times, found / len(bodies)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--queries", type=int, default=100, help="searches per shape and database")
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="reuse a SQLite catalog between runs"
    )
    ap.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                    help="an admin URL (a database rastercat_bench_<hex> is made and dropped), or 'none'")  # fmt: skip
    ap.add_argument("--pg-keep", metavar="NAME", default=None,
                    help="load the PostgreSQL catalog into database NAME once and keep it for later runs")  # fmt: skip
    ap.add_argument("--own-process-only", action="store_true",
                    help="only the `rastercat serve` part (no server in this process, no forced plans)")  # fmt: skip
    ap.add_argument("--page-cache", choices=("warm", "as-is"), default="warm",
                    help="read the catalog's files into the OS page cache before the `rastercat serve` "
                         "part (as a server's are after a while), or measure with whatever is there")  # fmt: skip
    ap.add_argument("--seed", type=int, default=None,
                    help="of the `rastercat serve` part's queries (default: new ones every run)")  # fmt: skip
    args = ap.parse_args()
    bodies = shapes(args.queries + 10)
    # `rastercat serve` gets searches nobody sent before, in this run or an earlier one on a kept
    # catalog: none of their pages is in a cache because of this benchmark (a week's ~116 heap
    # pages fit in PostgreSQL's 128 MB of buffers a hundred times over).
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000, 2**31)
    fresh = shapes(args.queries + 10, seed=seed)

    sides: list[tuple[str, str | None]] = [("sqlite", None)]
    with contextlib.ExitStack() as stack:
        if args.pg != "none":
            pg = kept_database(args.pg, args.pg_keep) if args.pg_keep else scratch_database(args.pg)
            sides.append(("postgis", stack.enter_context(pg)))
        for label, db_url in sides:
            keep = label == "sqlite" and args.data_dir is not None
            data = args.data_dir if keep else Path(tempfile.mkdtemp(prefix="rc-bench-search-"))
            app, url, stop = serve(data, db_url)
            print(f"{label}: {args.images:,} images")
            token = prepare(app, args.images)
            repo = app.state.rc.repo
            with httpx.Client(base_url=url, headers={"Authorization": token}, timeout=300) as c:
                for shape, qs in ({} if args.own_process_only else bodies).items():
                    timeit(c, qs[:10])  # warm-up
                    times, found = interleaved(repo, lambda b, c=c: timeit(c, [b]), qs[10:])
                    line = f"  {shape:<26}"
                    for plan in PLANS:
                        line += f"  {plan}: p50 {pct(times[plan], 50):6.1f} ms  p99 {pct(times[plan], 99):6.1f} ms"
                    print(f"{line}  ({found:.0f} results/search)", flush=True)
                repo.search_plan = "auto"
            stop()
            # New queries against `rastercat serve` in its own process (the plan it chooses).
            if args.page_cache == "warm":
                warm_page_cache(data, db_url)
            proc, served = serve_process(data, db_url)
            try:
                with httpx.Client(
                    base_url=served, headers={"Authorization": token}, timeout=300
                ) as c:
                    floor = []
                    for i in range(230):  # how fast this machine answers HTTP at all, right now
                        t = time.perf_counter()
                        c.get("/health").raise_for_status()
                        if i >= 30:
                            floor.append((time.perf_counter() - t) * 1000)
                    print(f"  rastercat serve (own process); GET /health p50 {pct(floor, 50):.2f} ms "
                          f"(this machine's HTTP floor in this run); new searches (--seed {seed}):",
                          flush=True)  # fmt: skip
                    for shape, qs in fresh.items():
                        timeit(c, qs[:10])
                        times_, found = timeit(c, qs[10:])
                        print(f"  {shape:<26}  auto: p50 {pct(times_, 50):6.1f} ms  p99 "
                              f"{pct(times_, 99):6.1f} ms  ({found:.0f} results/search)", flush=True)  # fmt: skip
            finally:
                proc.terminate()
                proc.wait(timeout=60)
            app.state.rc.engine.dispose()
            if not keep:
                shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()

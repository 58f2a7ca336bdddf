"""Tiles while large files are ingested: what the conversion processes' priority
(``RASTERCAT_INGEST__NICE``) does to a web map's tiles on a busy machine, and to the ingests.

For each niceness given (``--nice 0 10``: the peer is the same server with the other setting),
``rastercat serve`` starts in a temp folder with the soak's product (four 2048² 2-band UInt16 seed
images in UTM, benchmarks/soak.py); then, for ``--seconds``, ``--clients`` clients draw product tiles
(zooms 11-14, magma) one after another while a client uploads a ``--big``² 2-band image again and
again, each waited for until it is searchable. Settings alternate over ``--rounds`` so that a busy
machine slows both alike. Prints per run: tiles, p50 / p90 / p99, errors, big ingests done and
their median upload-to-searchable time.

    python benchmarks/bench_tiles_ingesting.py --nice 0 10 --rounds 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _serve import start_rastercat, stop
from soak import Soak, Stats, run_clients, write_image


def run(nice: int, seconds: float, clients: int, big_side: int) -> str:
    os.environ["RASTERCAT_INGEST__NICE"] = str(nice)
    with tempfile.TemporaryDirectory(prefix="bench_tiles_ingesting_") as tmp:
        folder = Path(tmp)
        (folder / "rc").mkdir()
        proc, url, token = start_rastercat(folder / "rc", folder / "server.log")
        try:
            soak = Soak(url, token, folder, 2048)
            big = folder / "big.tif"
            write_image(big, big_side, 7)
            run_clients(soak, Stats(), clients, 10, {"tile": 1})  # warm-up
            stopping, ingests = threading.Event(), []

            def ingest_loop() -> None:
                from rastercat.client.catalog import Catalog

                with Catalog(url=url, token=token) as catalog:
                    k = 0
                    while not stopping.is_set():
                        name, k = f"big{k}", k + 1
                        path = folder / f"{name}.tif"
                        path.write_bytes(big.read_bytes())
                        t0 = time.monotonic()
                        catalog.upload_image(str(path), soak.pid, progress=False,
                                             acquired="2025-02-01T00:00:00Z")  # fmt: skip
                        catalog.wait_for_image(soak.pid, name, timeout=600)
                        ingests.append(time.monotonic() - t0)
                        path.unlink()

            loader = threading.Thread(target=ingest_loop, daemon=True)
            loader.start()
            stats = Stats()
            run_clients(soak, stats, clients, seconds, {"tile": 1})
            stopping.set()
            loader.join(600)
        finally:
            stop(proc)
    ms = np.asarray(stats.times["tile"]) * 1000
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    each = f"{np.median(ingests):.1f} s each" if ingests else "none finished"
    return (f"nice {nice:2}: {len(ms)} tiles ({len(ms) / seconds:.1f}/s), p50 {p50:.0f} ms, "
            f"p90 {p90:.0f} ms, p99 {p99:.0f} ms, {len(stats.errors['tile'])} errors; "
            f"{len(ingests)} big ingests, {each}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nice", type=int, nargs="+", default=[0, 10])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--clients", type=int, default=4, help="tile clients")
    ap.add_argument(
        "--big", type=int, default=6000, help="side of the image ingested again and again"
    )
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    for _ in range(args.rounds):
        for nice in args.nice:
            print(run(nice, args.seconds, args.clients, args.big), flush=True)


if __name__ == "__main__":
    main()

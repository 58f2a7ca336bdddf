"""A mixed soak against `rastercat serve`: clients searching, drawing tiles, reading rasters and
uploading at once, for a while. Prints requests, errors, p50 and p99 per route, the server's RSS
after warm-up and at the end, and whether every aim held: 0 errors, every upload ingested, and RSS
growth within ``--rss-bound`` MiB.

    .venv/bin/python benchmarks/soak.py [--clients 16] [--minutes 5] [--rss-bound 300]

Only 127.0.0.1: the server is started by the script, on a free loopback port, in a temp folder.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

import httpx
import morecantile
import numpy as np
import rasterio
from _serve import memory, start_rastercat, stop
from rasterio.transform import from_origin

TMS = morecantile.tms.get("WebMercatorQuad")
ORIGIN = (391395.0, 5596530.0)  # UTM 43N
PIXEL = 10.0
#: Share of each route in the mix (the rest of a client's time goes to the others).
MIX = {"search": 4, "tile": 8, "read": 2, "upload": 1}


def write_image(path: Path, side: int, seed: int, offset: tuple[float, float] = (0, 0)) -> None:
    rng = np.random.default_rng(seed)
    rows, cols = np.indices((side, side))
    arr = 3000 + 2000 * np.sin(rows / 90.0 + seed) + rng.integers(0, 300, (side, side))
    profile = {
        "driver": "GTiff", "width": side, "height": side, "count": 2, "dtype": "uint16",
        "crs": "EPSG:32643", "nodata": 0, "tiled": True, "blockxsize": 256, "blockysize": 256,
        "transform": from_origin(ORIGIN[0] + offset[0], ORIGIN[1] - offset[1], PIXEL, PIXEL),
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack([arr, arr // 2]).astype("uint16"))


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)

    def timed(self, route: str, fn: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        try:
            fn()
            error = None
        except Exception as exc:  # every failure is counted and shown, none stops the soak
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        with self.lock:
            self.times[route].append(time.perf_counter() - t0)
            if error:
                self.errors[route].append(error)


class Soak:
    """The product, its images and the request makers; one instance shared by the clients."""

    def __init__(self, url: str, token: str, folder: Path, side: int) -> None:
        from rastercat.client.catalog import Catalog

        self.url, self.token, self.folder, self.side = url, token, folder, side
        self.uploads: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        with Catalog(url=url, token=token) as catalog:
            self.pid = catalog.add_product("soak", title="soak", description="soak")["data"]["id"]
            for i, band in enumerate(("a", "b"), start=1):
                catalog.add_band(self.pid, band, srcband=i, dtype="UInt16", nbits=16,
                                 data_range=[0, 10000], nodata=0, type="spectral")  # fmt: skip
            for k in range(4):  # a 2 x 2 mosaic, overlapping a little
                path = folder / f"seed{k}.tif"
                write_image(path, side, k, ((k % 2) * side * PIXEL * 0.9, (k // 2) * side * 9.0))
                catalog.upload_image(str(path), self.pid, progress=False,
                                     acquired=f"2024-0{k + 1}-01T00:00:00Z")  # fmt: skip
            for k in range(4):
                catalog.wait_for_image(self.pid, f"seed{k}", timeout=600)
        self.template = folder / "template.tif"
        write_image(self.template, 256, 99, (side * PIXEL * 0.5, side * PIXEL * 0.5))
        with rasterio.open(folder / "seed0.tif") as src:
            from rasterio.warp import transform_bounds

            self.lonlat = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        w, s, e, n = self.lonlat
        self.tiles = [t for z in (11, 12, 13, 14) for t in TMS.tiles(w, s, e, n, [z])]

    def search(self, client: httpx.Client, rng: random.Random) -> None:
        w, s, e, n = self.lonlat
        dx, dy = rng.uniform(0, e - w), rng.uniform(0, n - s)
        x0, y0, x1, y1 = w + dx / 2, s + dy / 2, w + dx, s + dy
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        body = {
            "products": [self.pid],
            "geom": {"type": "Polygon", "coordinates": [ring]},
            "start_datetime": "2020-01-01T00:00:00Z",
            "limit": 50,
        }
        r = client.post("/metadata/v1/search", json=body)
        r.raise_for_status()
        assert isinstance(r.json(), list)

    def tile(self, client: httpx.Client, rng: random.Random) -> None:
        t = rng.choice(self.tiles)
        r = client.get(f"/tiles/v1/products/{self.pid}/{t.z}/{t.x}/{t.y}.png",
                       params={"bands": "a", "colormap": "magma", "rescale": "0,6000"})  # fmt: skip
        r.raise_for_status()
        assert r.content[:4] == b"\x89PNG"

    def read(self, client: httpx.Client, rng: random.Random) -> None:
        from rastercat.client.raster import Raster

        x0 = ORIGIN[0] + rng.uniform(0, self.side * PIXEL)
        y0 = ORIGIN[1] - rng.uniform(0, self.side * PIXEL)
        raster = Raster(url=self.url, token=self.token)
        ids = [f"{self.pid}:seed{k}" for k in range(4)]
        arr, _ = raster.ndarray(ids, bands=["a", "b"], srs="EPSG:32643", resolution=PIXEL * 2,
                                bounds=(x0, y0 - 5120, x0 + 5120, y0),
                                bounds_srs="EPSG:32643")  # fmt: skip
        assert arr.shape[:2] == (256, 256), arr.shape

    def upload(self, client: httpx.Client, rng: random.Random) -> None:
        from rastercat.client.catalog import Catalog

        with self.lock:
            name = f"up{len(self.uploads)}"
            self.uploads.append((name, ""))
        path = self.folder / f"{name}.tif"
        path.write_bytes(self.template.read_bytes())
        with Catalog(url=self.url, token=self.token) as catalog:
            catalog.upload_image(str(path), self.pid, progress=False,
                                 acquired="2025-01-01T00:00:00Z")  # fmt: skip
        path.unlink()

    def check_uploads(self) -> list[str]:
        """Every upload made it into the catalog (waits for the queue to drain)."""
        from rastercat.client.catalog import Catalog

        failed = []
        with Catalog(url=self.url, token=self.token) as catalog:
            for name, _ in self.uploads:
                try:
                    catalog.wait_for_image(self.pid, name, timeout=600)
                except Exception as exc:
                    failed.append(f"{name}: {exc}")
        return failed


def client_loop(soak: Soak, stats: Stats, seed: int, deadline: float, mix: dict[str, int]) -> None:
    rng = random.Random(seed)
    routes = [r for r, w in mix.items() for _ in range(w)]
    headers = {"Authorization": soak.token}
    with httpx.Client(base_url=soak.url, headers=headers, timeout=120) as client:
        while time.monotonic() < deadline:
            route = rng.choice(routes)
            stats.timed(route, partial(getattr(soak, route), client, rng))


def run_clients(
    soak: Soak, stats: Stats, clients: int, seconds: float, mix: dict[str, int] = MIX
) -> None:
    deadline = time.monotonic() + seconds
    threads = [
        threading.Thread(target=client_loop, args=(soak, stats, i, deadline, mix), daemon=True)
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--side", type=int, default=2048, help="side of each of the 4 seed images")
    ap.add_argument("--rss-bound", type=float, default=300.0,
                    help="largest allowed RSS growth from after warm-up to the end, MiB")  # fmt: skip
    ap.add_argument("--routes", default=",".join(MIX),
                    help="the routes to send, comma-separated (to find which one grows memory)")  # fmt: skip
    args = ap.parse_args()
    mix = {r: MIX[r] for r in args.routes.split(",")}
    with tempfile.TemporaryDirectory(prefix="soak_") as tmp:
        folder = Path(tmp)
        (folder / "rc").mkdir()
        proc, url, token = start_rastercat(folder / "rc", folder / "server.log")
        try:
            soak = Soak(url, token, folder, args.side)
            run_clients(soak, Stats(), args.clients, 15, mix)  # warm-up: threads, caches, imports
            mem0 = memory(proc.pid)
            stats = Stats()
            t0 = time.monotonic()
            samples: list[tuple[float, dict[str, float]]] = []
            done = threading.Event()

            def sample() -> None:  # the server's RSS every 10 s: a plateau or a climb
                while not done.wait(10):
                    samples.append((time.monotonic() - t0, memory(proc.pid)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            run_clients(soak, stats, args.clients, args.minutes * 60, mix)
            done.set()
            sampler.join()
            elapsed = time.monotonic() - t0
            failed = soak.check_uploads()
            mem1 = memory(proc.pid)
        finally:
            stop(proc)
    print(f"{args.clients} clients, {elapsed:.0f} s, loopback; {len(soak.uploads)} uploads")
    print(f"{'route':8}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}")
    errors = 0
    for route in mix:
        ms = np.asarray(stats.times[route]) * 1000
        errs = stats.errors[route]
        errors += len(errs)
        p50, p99 = (np.percentile(ms, 50), np.percentile(ms, 99)) if len(ms) else (0.0, 0.0)
        print(f"{route:8}{len(ms):10}{len(errs):8}{p50:9.0f}{p99:9.0f}")
        for e in sorted(set(errs))[:3]:
            print(f"    {e}")
    for f in failed[:5]:
        print(f"    upload not ingested: {f}")
    rss0, rss1 = mem0["VmRSS"], mem1["VmRSS"]
    growth = rss1 - rss0

    def show(m: dict[str, float]) -> str:
        return f"{m['VmRSS']:.0f} ({m['RssAnon']:.0f}+{m['RssFile']:.0f}, {m['Threads']:.0f} thr)"

    per_minute = [show(m) for at, m in samples if int(at) % 60 < 10]
    print("server RSS each minute, MiB (own memory + mapped files, threads): "
          f"{show(mem0)} (warm) " + " ".join(per_minute))  # fmt: skip
    half = [m["VmRSS"] for at, m in samples if at >= elapsed / 2]
    if half:
        print(f"server RSS over the second half: {half[0]:.0f} -> {half[-1]:.0f} MiB "
              f"(max {max(half):.0f})")  # fmt: skip
    print(f"server RSS after warm-up {show(mem0)} MiB, at the end {show(mem1)} MiB "
          f"(+{growth:.0f} MiB: own memory {mem1['RssAnon'] - mem0['RssAnon']:+.0f}, mapped "
          f"files {mem1['RssFile'] - mem0['RssFile']:+.0f}; bound {args.rss_bound:.0f} MiB)")  # fmt: skip
    ok = errors == 0 and not failed and growth <= args.rss_bound
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

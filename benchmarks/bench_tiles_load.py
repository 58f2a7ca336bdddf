"""Tiles under load: `rastercat serve` vs TiTiler on the very COG rastercat stored, same tile list.

One 4096² UInt16 image in UTM (and a 3-band RGB one) is uploaded to a `rastercat serve` process
started with its defaults; TiTiler (``titiler-core`` in its own virtual environment under
~/.cache/rastercat-bench, one uvicorn process, its documented GDAL settings) serves the stored COG
file. One load generator (httpx async, ``c`` connections each looping over a shuffled tile list,
zooms 11–15) drives both sides, interleaved round by round, and prints tiles/s, p50, p99, errors
and the ratios rastercat / TiTiler. Aim at c=16 on the product route: throughput ≥ 1.2×, p99 ≤ 1×.

    .venv/bin/python benchmarks/bench_tiles_load.py [--seconds 20] [--rounds 2] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import morecantile
import numpy as np
import rasterio
from _serve import start_rastercat, start_titiler, stop
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

TMS = morecantile.tms.get("WebMercatorQuad")
RESCALE = "0,10000"
ZOOMS = range(11, 16)


def make_input(path: Path, side: int, count: int) -> None:
    """Smooth terrain-like UInt16 pixels with noise, in UTM; 0 is nodata."""
    rng = np.random.default_rng(0)
    rows, cols = np.indices((side, side))
    bands = [
        (5000 + 4000 * np.sin(rows / (300.0 + 50 * b)) * np.cos(cols / 400.0)
         + rng.integers(0, 200, (side, side))).astype("uint16")
        for b in range(count)
    ]  # fmt: skip
    profile = {
        "driver": "GTiff", "width": side, "height": side, "count": count, "dtype": "uint16",
        "crs": "EPSG:32643", "transform": from_origin(391395.0, 5596530.0, 10.0, 10.0),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "nodata": 0,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(np.stack(bands))


def ingest(url: str, token: str, name: str, image: Path, bands: list[str]) -> tuple[str, str]:
    """A product holding ``image``; returns (product id, image id)."""
    from rastercat.client.catalog import Catalog

    with Catalog(url=url, token=token) as catalog:
        pid = catalog.add_product(name, title=name, description="bench")["data"]["id"]
        for i, band in enumerate(bands, start=1):
            catalog.add_band(pid, band, srcband=i, dtype="UInt16", nbits=16,
                             data_range=[0, 65535], nodata=0, type="spectral")  # fmt: skip
        catalog.upload_image(str(image), pid, progress=False)
        row = catalog.wait_for_image(pid, image.stem, timeout=900)
    return pid, str(row["data"]["id"])


def stored_cogs(data_dir: Path) -> set[Path]:
    """The COGs rastercat stored (``products/<product uid>/<image>.tif`` in its object store)."""
    return set((data_dir / "objects" / "products").rglob("*.tif"))


def tile_list(cog: Path, per_zoom: int = 60) -> list[tuple[int, int, int]]:
    """Tiles fully inside the image at zooms 11–15 (at most ``per_zoom`` per zoom, seeded)."""
    with rasterio.open(cog) as src:
        crs, box = src.crs, src.bounds
    w, s, e, n = transform_bounds(crs, "EPSG:4326", *box)

    def inside(t: morecantile.Tile) -> bool:
        left, bottom, right, top = transform_bounds("EPSG:3857", crs, *TMS.xy_bounds(t))
        return left >= box.left and right <= box.right and bottom >= box.bottom and top <= box.top

    rng = random.Random(1)
    out: list[tuple[int, int, int]] = []
    for z in ZOOMS:
        tiles = [(t.z, t.x, t.y) for t in TMS.tiles(w, s, e, n, [z]) if inside(t)]
        out += rng.sample(tiles, min(per_zoom, len(tiles)))
    return out


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    first_error: str = ""


async def drive(urls: list[str], concurrency: int, seconds: float, headers: dict[str, str]) -> Run:
    """``concurrency`` clients, each requesting the next URL as soon as its last one answered."""
    run = Run()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=120, limits=limits, headers=headers) as client:
        deadline = time.perf_counter() + seconds
        counter = iter(range(10**9))

        async def worker() -> None:
            while time.perf_counter() < deadline:
                url = urls[next(counter) % len(urls)]
                t0 = time.perf_counter()
                try:
                    r = await client.get(url)
                    ok = r.status_code == 200 and r.content[:4] == b"\x89PNG"
                    if not ok and not run.first_error:
                        run.first_error = f"{r.status_code} {r.text[:200]}"
                except httpx.HTTPError as exc:
                    ok = False
                    run.first_error = run.first_error or repr(exc)
                run.latencies.append(time.perf_counter() - t0)
                run.errors += not ok

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.seconds = time.perf_counter() - t0
    return run


def merge(runs: list[Run]) -> Run:
    out = Run()
    for r in runs:
        out.latencies += r.latencies
        out.errors += r.errors
        out.seconds += r.seconds
        out.first_error = out.first_error or r.first_error
    return out


def stats(r: Run) -> tuple[float, float, float]:
    ms = np.asarray(r.latencies) * 1000
    return len(ms) / r.seconds, float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


@dataclass
class Case:
    name: str
    concurrency: int
    ours: list[str]
    peer: list[str]


def run_case(case: Case, token: str, seconds: float, rounds: int) -> None:
    """Both sides, interleaved (a round of each, alternately) so a noisy machine hits both."""
    warm = 32
    asyncio.run(drive(case.ours[:warm], 4, 1.0, {"Authorization": token}))
    asyncio.run(drive(case.peer[:warm], 4, 1.0, {}))
    ours: list[Run] = []
    peer: list[Run] = []
    for i in range(rounds):
        order = [("ours", case.ours, ours), ("peer", case.peer, peer)]
        for _, urls, out in order if i % 2 == 0 else order[::-1]:
            hdr = {"Authorization": token} if out is ours else {}
            out.append(asyncio.run(drive(urls, case.concurrency, seconds, hdr)))
    o, p = merge(ours), merge(peer)
    (ot, o50, o99), (pt, p50, p99) = stats(o), stats(p)
    print(f"{case.name:34} c={case.concurrency:<3} rastercat {ot:6.1f}/s p50 {o50:6.0f} p99 "
          f"{o99:6.0f} err {o.errors:<3}| TiTiler {pt:6.1f}/s p50 {p50:6.0f} p99 {p99:6.0f} "
          f"err {p.errors:<3}| ×{ot / pt:.2f} thr, p99 ×{o99 / p99:.2f}", flush=True)  # fmt: skip
    for label, r in (("rastercat", o), ("TiTiler", p)):
        if r.errors:
            print(f"   {label} first error: {r.first_error}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=4096)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of one round per side")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="only the c=16 product route")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_tiles_load_") as tmp:
        folder = Path(tmp)
        data_dir = folder / "rc"
        data_dir.mkdir()
        gray, rgb = folder / "elev.tif", folder / "rgb.tif"
        make_input(gray, args.side, 1)
        make_input(rgb, args.side, 3)
        rc, url, token = start_rastercat(data_dir, folder / "rastercat.log")
        ti, peer_url = start_titiler(folder / "titiler.log")
        try:
            pid, image_id = ingest(url, token, "elev", gray, ["elev"])
            (cog,) = stored_cogs(data_dir)
            rgb_pid, _ = ingest(url, token, "rgb", rgb, ["red", "green", "blue"])
            (rgb_cog,) = stored_cogs(data_dir) - {cog}
            tiles = tile_list(cog)
            random.Random(2).shuffle(tiles)
            print(f"{len(tiles)} tiles, zooms {ZOOMS.start}–{ZOOMS.stop - 1}, {args.side}² UInt16 "
                  f"COG in UTM, 256 px PNG; {os.cpu_count()} CPUs (shared: expect noise); "
                  f"{args.rounds} × {args.seconds:.0f} s per side, interleaved")  # fmt: skip
            gray_q = f"bands=elev&colormap=magma&rescale={RESCALE}"
            peer_q = f"url={cog}&bidx=1&colormap_name=magma&rescale={RESCALE}"
            rgb_q = f"bands=red,green,blue&rescale={RESCALE}"
            rgb_peer_q = f"url={rgb_cog}&bidx=1&bidx=2&bidx=3&rescale={RESCALE}"

            def ours(path: str, q: str) -> list[str]:
                return [f"{url}/tiles/v1/{path}/{z}/{x}/{y}.png?{q}" for z, x, y in tiles]

            def theirs(q: str) -> list[str]:
                return [
                    f"{peer_url}/tiles/WebMercatorQuad/{z}/{x}/{y}.png?{q}" for z, x, y in tiles
                ]

            product, image = ours(f"products/{pid}", gray_q), ours(f"images/{image_id}", gray_q)
            cases = [Case("product route, magma", 16, product, theirs(peer_q))]
            if not args.quick:
                cases += [
                    Case("product route, magma", 1, product, theirs(peer_q)),
                    Case("product route, magma", 64, product, theirs(peer_q)),
                    Case("image route, magma", 16, image, theirs(peer_q)),
                    Case("RGB product, 3 bands", 16, ours(f"products/{rgb_pid}", rgb_q),
                         theirs(rgb_peer_q)),
                ]  # fmt: skip
            for case in cases:
                run_case(case, token, args.seconds, args.rounds)
        finally:
            stop(rc)
            stop(ti)


if __name__ == "__main__":
    main()

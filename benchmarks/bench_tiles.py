"""Tile latency and throughput: rastercat's HTTP tiles vs rio-tiler's Reader.tile + render in-process.

One UInt16 image is uploaded and ingested by a real server; both sides then render the SAME
ingested COG, as 256 px PNG tiles with the same stretch and the magma colormap, over a few hundred
tiles across zoom levels. Prints p50/p95 per tile and the ratio (rastercat / rio-tiler; the aim is
<= 1.2 at p50), then throughput over loopback at concurrency 1, 4 and 16.

    /work/venv/bin/python benchmarks/bench_tiles.py [--side 4096] [--tiles 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import morecantile
import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform_bounds

TMS = morecantile.tms.get("WebMercatorQuad")
RANGE = (0.0, 4000.0)


def make_input(path: Path, side: int) -> None:
    """Smooth terrain-like UInt16 pixels with a little noise; 0 is nodata."""
    rng = np.random.default_rng(0)
    rows, cols = np.indices((side, side))
    arr = (
        1000
        + 1500 * np.sin(rows / 300.0) * np.cos(cols / 400.0)
        + rng.integers(0, 50, (side, side))
    )
    profile = {
        "driver": "GTiff", "width": side, "height": side, "count": 1, "dtype": "uint16",
        "crs": "EPSG:32643", "transform": from_origin(391395.0, 5596530.0, 10.0, 10.0),
        "tiled": True, "blockxsize": 512, "blockysize": 512, "nodata": 0,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(arr.astype("uint16")[np.newaxis])


def start_server(folder: Path, image: Path) -> tuple[str, str, str, str]:
    """A live server with the image ingested: (url, token, product id, path of the ingested COG)."""
    from _server import start_server as start_app

    from rastercat.client.catalog import Catalog

    app, url, token = start_app(folder / "server")
    with Catalog(url=url, token=token) as catalog:
        pid = catalog.add_product("tiles", title="bench", description="bench")["data"]["id"]
        catalog.add_band(pid, "elev", srcband=1, dtype="UInt16", nbits=16, data_range=[0, 65535],
                         nodata=0, type="spectral")  # fmt: skip
        catalog.upload_image(str(image), pid, progress=False)
        row = catalog.wait_for_image(pid, image.stem, timeout=900)
    from rastercat.store.sql.repo import t

    state = app.state.rc
    stored = state.repo.one(t.images, id=row["data"]["id"])
    cog = state.objects.gdal_path(stored["storage_key"])
    return url, token, pid, cog


def tiles_over(cog: str, count: int) -> list[morecantile.Tile]:
    """Up to ``count`` tiles over the image, spread over the zooms from a few tiles to native."""
    from rio_tiler.io import Reader

    with rasterio.open(cog) as src:
        w, s, e, n = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        res = src.res[0]
    native = int(np.ceil(np.log2(2 * np.pi * 6378137 / (256 * res))))
    zooms = list(range(max(0, native - 6), native + 1))
    rng = np.random.default_rng(1)
    out: list[morecantile.Tile] = []
    remaining = count
    with Reader(cog) as reader:
        for i, z in enumerate(zooms):
            tiles = [t for t in TMS.tiles(w, s, e, n, [z]) if reader.tile_exists(t.x, t.y, t.z)]
            quota = min(len(tiles), remaining // (len(zooms) - i))
            out += [tiles[k] for k in sorted(rng.choice(len(tiles), size=quota, replace=False))]
            remaining -= quota
    return out


def rio_tiler_render(cog: str) -> Callable[[morecantile.Tile], bytes]:
    from rio_tiler.colormap import cmap
    from rio_tiler.io import Reader

    colormap = cmap.get("magma")

    def render(t: morecantile.Tile) -> bytes:
        with Reader(cog) as r:
            img = r.tile(t.x, t.y, t.z, tilesize=256, indexes=(1,))
        img.rescale(in_range=(RANGE,))
        return img.render(img_format="PNG", colormap=colormap)

    return render


def http_render(
    url: str, token: str, pid: str
) -> Callable[[httpx.Client, morecantile.Tile], bytes]:
    params = {"bands": "elev", "colormap": "magma", "rescale": f"{RANGE[0]},{RANGE[1]}"}

    def render(client: httpx.Client, t: morecantile.Tile) -> bytes:
        r = client.get(f"{url}/tiles/v1/products/{pid}/{t.z}/{t.x}/{t.y}.png", params=params,
                       headers={"Authorization": token})  # fmt: skip
        r.raise_for_status()
        return r.content

    return render


def latencies(fn: Callable[[morecantile.Tile], Any], tiles: list[morecantile.Tile]) -> list[float]:
    fn(tiles[0])  # warm-up: imports, GDAL driver, first file open
    out = []
    for t in tiles:
        t0 = time.perf_counter()
        fn(t)
        out.append(time.perf_counter() - t0)
    return out


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def throughput(render: Callable[[httpx.Client, morecantile.Tile], bytes],
               tiles: list[morecantile.Tile], workers: int) -> float:  # fmt: skip
    local = threading.local()

    def one(t: morecantile.Tile) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(timeout=120)
        render(local.client, t)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, tiles))
    return len(tiles) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=4096)
    ap.add_argument("--tiles", type=int, default=300)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_tiles_") as tmp:
        folder = Path(tmp)
        image = folder / "elev.tif"
        make_input(image, args.side)
        url, token, pid, cog = start_server(folder, image)
        tiles = tiles_over(cog, args.tiles)
        print(f"{len(tiles)} tiles, zooms {tiles[0].z}..{tiles[-1].z}, {args.side}² UInt16 COG, "
              f"{os.cpu_count()} CPUs")  # fmt: skip

        peer = latencies(rio_tiler_render(cog), tiles)
        render = http_render(url, token, pid)
        with httpx.Client(timeout=120) as client:
            ours = latencies(lambda t: render(client, t), tiles)
        print(f"{'':28}{'p50 ms':>9}{'p95 ms':>9}")
        print(f"{'rio-tiler in-process':28}{pct(peer, 50):9.1f}{pct(peer, 95):9.1f}")
        print(f"{'rastercat over HTTP':28}{pct(ours, 50):9.1f}{pct(ours, 95):9.1f}")
        print(f"ratio rastercat / rio-tiler: p50 {statistics.median(ours) / statistics.median(peer):.2f}"
              f"  p95 {pct(ours, 95) / pct(peer, 95):.2f}  (aim: p50 <= 1.2)")  # fmt: skip
        for workers in (1, 4, 16):
            print(f"throughput at concurrency {workers:2}: "
                  f"{throughput(render, tiles, workers):7.1f} tiles/s")  # fmt: skip


if __name__ == "__main__":
    main()

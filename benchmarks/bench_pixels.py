"""Mosaic read benchmark: rastercat ``read()`` vs rasterio.merge over WarpedVRTs vs rio-tiler.

Four adjacent UTM COGs (``--side``² x 4 bands UInt16) mosaicked to a 1024² EPSG:3857 grid. Every
peer gets the same grid, derived from ONE transform (bounds and resolution both come from it), and
runs on the same files in the same run. Prints p50 times and ratios (peer / rastercat).

    /work/venv/bin/python benchmarks/bench_pixels.py [--side 2048] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS
from rasterio.merge import merge
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from rastercat.raster import BandInfo, Grid, SourceImage, read
from rastercat.raster.grid import grid_from_bounds

UTM = CRS.from_epsg(32615)
MERC = CRS.from_epsg(3857)
RES = 10.0
BANDS = ("blue", "green", "red", "nir")


def write_tiles(folder: Path, side: int) -> list[SourceImage]:
    rng = np.random.default_rng(0)
    # Smooth fields plus noise compress and resample like real imagery, unlike pure noise.
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    sources = []
    for k, (i, j) in enumerate(((0, 0), (1, 0), (0, 1), (1, 1))):
        transform = Affine(RES, 0, 500_000 + i * side * RES, 0, -RES, 4_500_000 - j * side * RES)
        data = np.stack(
            [
                (3000 + 2000 * np.sin(6 * xx + b) * np.cos(4 * yy - k)).astype(np.uint16)
                + rng.integers(0, 200, (side, side), dtype=np.uint16)
                for b in range(4)
            ]
        )
        tmp, path = folder / f"t{k}.src.tif", folder / f"t{k}.tif"
        with rasterio.open(
            tmp,
            "w",
            driver="GTiff",
            width=side,
            height=side,
            count=4,
            dtype="uint16",
            crs=UTM,
            transform=transform,
            tiled=True,
        ) as dst:
            dst.write(data)
        rasterio.shutil.copy(
            tmp, path, driver="COG", compress="ZSTD", level=1, predictor=2, num_threads="ALL_CPUS"
        )
        tmp.unlink()
        sources.append(
            SourceImage(
                f"bench:{k}", str(path), BANDS, UTM.to_wkt(), transform.to_gdal(), (side, side)
            )
        )
    return sources


def output_grid(sources: list[SourceImage], size: int) -> Grid:
    boxes = [s.bounds for s in sources]
    union = (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )
    return grid_from_bounds(MERC, transform_bounds(UTM, MERC, *union), size=(size, size))


def http_reader(
    folder: Path, sources: list[SourceImage], bounds: tuple[float, ...], grid: Grid
) -> Callable[[], np.ndarray]:
    """Start a server, upload the four files through the SDK, and return a timed read of them."""
    import os

    from _server import start_server

    from rastercat.client.catalog import Catalog
    from rastercat.client.raster import Raster

    _app, url, token = start_server(folder / "server")
    os.environ["RASTERCAT_URL"], os.environ["RASTERCAT_TOKEN"] = url, token
    catalog = Catalog()
    pid = catalog.add_product("pixels", title="bench", description="bench")["data"]["id"]
    for i, name in enumerate(BANDS, 1):
        catalog.add_band(pid, name, srcband=i, dtype="UInt16", nbits=16, data_range=[0, 65535],
                         type="spectral")  # fmt: skip
    for s in sources:
        catalog.upload_image(s.path, pid, progress=False)
    ids = [f"{pid}:{Path(s.path).stem}" for s in sources]
    for image_id in ids:
        catalog.wait_for_image(pid, image_id, timeout=600)
    raster = Raster()

    def read_http() -> np.ndarray:
        arr, _ = raster.ndarray(ids, bands=list(BANDS), srs="EPSG:3857", bounds=bounds,
                                bounds_srs="EPSG:3857", dimensions=(grid.width, grid.height),
                                order="gdal")  # fmt: skip
        return arr

    return read_http


def p50(fn: Callable[[], np.ndarray], repeat: int) -> tuple[float, np.ndarray]:
    out = fn()  # warm-up: file handles, GDAL block cache of headers
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--side", type=int, default=2048)
    ap.add_argument("--out", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument(
        "--no-http", action="store_true", help="skip the read through the HTTP API (/raster/v1/npz)"
    )
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        sources = write_tiles(Path(tmp), args.side)
        grid = output_grid(sources, args.out)
        t = grid.transform
        # One transform gives every peer its bounds and resolution.
        bounds = (t.c, t.f + t.e * grid.height, t.c + t.a * grid.width, t.f)
        bands = [BandInfo(name=b, dtype="UInt16") for b in BANDS]

        def ours() -> np.ndarray:
            return read(sources, bands, grid).data

        def ours_full_res() -> np.ndarray:
            return read(sources, bands, grid, use_overviews=False).data

        def merge_vrts() -> np.ndarray:
            datasets = [rasterio.open(s.path) for s in sources]
            vrts = [
                WarpedVRT(d, crs=MERC, transform=t, width=grid.width, height=grid.height)
                for d in datasets
            ]
            try:
                arr, _ = merge(vrts, bounds=bounds, res=(t.a, -t.e), nodata=0)
            finally:
                for v in vrts:
                    v.close()
                for d in datasets:
                    d.close()
            return arr

        def rio_tiler_mosaic() -> np.ndarray:
            from rio_tiler.io import Reader
            from rio_tiler.mosaic import mosaic_reader

            def part(path: str, *a: object, **kw: object):
                with Reader(path) as r:
                    return r.part(
                        bounds, dst_crs=MERC, bounds_crs=MERC, width=grid.width, height=grid.height
                    )

            img, _ = mosaic_reader([s.path for s in reversed(sources)], part)
            return img.data

        http = None if args.no_http else http_reader(Path(tmp), sources, bounds, grid)

        with rasterio.Env(GDAL_CACHEMAX=256):
            results = {}
            if http is not None:
                results["rastercat over HTTP (/npz, SDK)"] = p50(http, args.repeat)
            results |= {
                "rastercat read()": p50(ours, args.repeat),
                "rastercat read(use_overviews=False)": p50(ours_full_res, args.repeat),
                "rasterio.merge over WarpedVRTs": p50(merge_vrts, args.repeat),
                "rio-tiler mosaic_reader": p50(rio_tiler_mosaic, args.repeat),
            }

    base = results.get("rastercat over HTTP (/npz, SDK)", results["rastercat read()"])[0]
    full = results["rastercat read(use_overviews=False)"]
    print(
        f"{len(sources)} COGs {args.side}² x 4 UInt16 -> {args.out}² x 4 EPSG:3857, p50 of {args.repeat}"
    )
    for name, (sec, _arr) in results.items():
        print(f"  {name:40s} {sec * 1000:8.1f} ms   ratio vs rastercat {sec / base:5.2f}")
    # GDAL's approximate transformer (0.125 px) chunks differently with the extra alpha band that
    # marks footprints, so a few borderline nearest-neighbour picks may differ.
    equal = np.mean(full[1] == results["rasterio.merge over WarpedVRTs"][1])
    print(f"  full-resolution rastercat pixels equal to merge's: {equal:.4%}")


if __name__ == "__main__":
    main()

"""Ingest speed: rastercat's process() vs GDAL's COG driver vs rio-cogeo, on one file, one run.

    python benchmarks/bench_ingest.py --size 4000 --bands 4      # quick
    python benchmarks/bench_ingest.py --size 10000 --bands 4     # the measured case (slow)

process() also verifies the COG (block bounds + a full decode) and traces the footprint, so its
ratio to the bare COG-driver copy is the price of those guarantees.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from rastercat.config import Limits
from rastercat.ingest import BandSpec, IngestRequest, process


def make_input(path: Path, size: int, bands: int) -> None:
    """Noisy but compressible UInt16 pixels: smooth gradients plus sensor-like noise."""
    rng = np.random.default_rng(0)
    profile = {
        "driver": "GTiff",
        "width": size,
        "height": size,
        "count": bands,
        "dtype": "uint16",
        "crs": "EPSG:32643",
        "transform": from_origin(391395.0, 5596530.0, 10.0, 10.0),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
    }
    with rasterio.open(path, "w", **profile) as dst:
        step = 512
        cols = np.arange(size)
        for r0 in range(0, size, step):
            rows = np.arange(r0, min(size, r0 + step))[:, None]
            for b in range(1, bands + 1):
                base = 2000 + 800 * np.sin(rows / 300 + b) * np.cos(cols / 450)
                noise = rng.normal(0, 40, size=(len(rows), size))
                block = np.clip(base + noise, 0, 65535).astype("uint16")
                window = rasterio.windows.Window(0, r0, size, len(rows))
                dst.write(block, b, window=window)


def timed(fn: Callable[[], object]) -> float:
    """Wall time of ``fn``, started with no dirty pages: the writeback of what an earlier step
    wrote (the 800 MB input, say) must not be charged to whichever step runs next."""
    os.sync()
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000, help="width and height in pixels")
    parser.add_argument("--bands", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / "input.tif"
        t = timed(lambda: make_input(src, args.size, args.bands))
        print(f"input: {args.size} x {args.size} x {args.bands} UInt16, written in {t:.1f} s")

        bands = tuple(BandSpec(f"b{i}", i) for i in range(1, args.bands + 1))
        request = IngestRequest("file", (src,), bands)
        work = tmpdir / "work"
        holder: dict[str, object] = {}
        t_process = timed(lambda: holder.update(res=process(request, work, Limits())))
        with rasterio.open(holder["res"].cog_path) as cog:  # type: ignore[attr-defined]
            n_ovr = len(cog.overviews(1))

        gdal_dst = tmpdir / "gdal.tif"

        def gdal_copy() -> None:
            with rasterio.open(src) as ds:
                rasterio.shutil.copy(
                    ds,
                    gdal_dst,
                    driver="COG",
                    num_threads="ALL_CPUS",
                    compress="ZSTD",
                    level=1,
                    predictor=2,
                    blocksize=512,
                    overview_resampling="AVERAGE",
                    overview_count=n_ovr,
                )

        t_gdal = timed(gdal_copy)

        cogeo_dst = tmpdir / "cogeo.tif"
        with warnings.catch_warnings():  # "non-standard compression schema": known, same as ours
            warnings.simplefilter("ignore", UserWarning)
            profile = cog_profiles.get("zstd")
        profile.update(blockxsize=512, blockysize=512, level=1, predictor=2)

        def rio_cogeo() -> None:
            cog_translate(
                src,
                cogeo_dst,
                profile,
                overview_level=n_ovr,
                overview_resampling="average",
                config={"GDAL_NUM_THREADS": "ALL_CPUS"},
                quiet=True,
            )

        t_cogeo = timed(rio_cogeo)

        print(f"{'rastercat process()':<34}{t_process:8.2f} s  (includes verify + footprint)")
        print(f"{'GDAL COG driver (rasterio copy)':<34}{t_gdal:8.2f} s")
        print(f"{'rio-cogeo cog_translate':<34}{t_cogeo:8.2f} s")
        print(f"process / GDAL COG driver  = {t_process / t_gdal:.2f}x")
        print(f"process / rio-cogeo        = {t_process / t_cogeo:.2f}x")
        print(f"rio-cogeo / GDAL COG driver = {t_cogeo / t_gdal:.2f}x")
        sizes = {p.name: p.stat().st_size for p in (gdal_dst, cogeo_dst)}
        sizes["process"] = holder["res"].attributes["cog_size"]  # type: ignore[attr-defined]
        print("output sizes (bytes):", sizes)


if __name__ == "__main__":
    main()

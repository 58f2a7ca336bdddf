"""Ingest speed: rastercat's process() vs GDAL's COG driver vs rio-cogeo, on one file, one run.

    python benchmarks/bench_ingest.py --size 4000 --bands 4 --repeat 3     # quick
    python benchmarks/bench_ingest.py --size 10000 --bands 4 --repeat 3    # the measured case

The peer, GDAL's COG driver through ``rasterio.shutil.copy``, gets exactly the creation options
rastercat's own COG copy uses (read from ``rastercat.ingest.to_cog.copy_options`` and the ingest
settings, not written out again here), with GDAL's default configuration; it runs a second time
with rastercat's configuration of the copy too (``to_cog.SCRATCH_CONFIG``). Sides run interleaved, ``--repeat`` times: on a shared
machine the absolute times drift, so each repeat's ratio is what to compare. process() also
verifies the COG, traces the footprint, computes statistics and the md5; its ratio to the bare
copy is the price of those guarantees.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from rastercat.config import IngestSettings, Limits
from rastercat.ingest import BandSpec, IngestRequest, process
from rastercat.ingest.plan import make_plan
from rastercat.ingest.probe import probe_file
from rastercat.ingest.to_cog import SCRATCH_CONFIG, copy_options


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


def run_timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Like :func:`timed`, for a call with arguments: ``(seconds, result)``."""
    os.sync()
    t0 = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - t0, result


def cpu_seconds() -> float:
    """CPU time of this process, all threads (GDAL's compression threads included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rastercat_options(src: Path, bands: int) -> dict[str, Any]:
    """The creation options rastercat's COG copy uses for ``src`` with the default settings."""
    specs = tuple(BandSpec(f"b{i}", i) for i in range(1, bands + 1))
    request = IngestRequest("file", (src,), specs)
    settings = IngestSettings()
    plan = make_plan(request, [probe_file(0, src, Limits())])
    return copy_options(plan, settings.compression, settings.compression_level)


def gdal_cog(
    src: Path, dst: Path, options: dict[str, Any], config: dict[str, str] | None = None
) -> None:
    """The peer: GDAL's COG driver alone, with the given creation options (and configuration:
    GDAL's defaults unless given)."""
    with rasterio.Env(**(config or {})), rasterio.open(src) as ds:
        rasterio.shutil.copy(ds, dst, driver="COG", **options)


def describe(options: dict[str, Any]) -> str:
    return ", ".join(f"{k.upper()}={v}" for k, v in sorted(options.items()))


def spread(values: Sequence[float]) -> str:
    """min / median / max (just the value for one repeat)."""
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


STEP = re.compile(r"^(.*?) in ([0-9.]+) s")


def steps(lines: Sequence[str]) -> dict[str, float]:
    """``{step: seconds}`` from the timed lines of a processing log."""
    out = {}
    for line in lines:
        m = STEP.match(re.sub(r"^\d\d:\d\d:\d\d ", "", line))
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000, help="width and height in pixels")
    parser.add_argument("--bands", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each side")
    parser.add_argument("--no-cogeo", action="store_true", help="skip rio-cogeo")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        src = tmpdir / "input.tif"
        t = timed(lambda: make_input(src, args.size, args.bands))
        print(f"input: {args.size} x {args.size} x {args.bands} UInt16, written in {t:.1f} s")
        options = rastercat_options(src, args.bands)
        print(f"creation options (rastercat's, given to the peer too): {describe(options)}")

        bands = tuple(BandSpec(f"b{i}", i) for i in range(1, args.bands + 1))
        request = IngestRequest("file", (src,), bands)
        with warnings.catch_warnings():  # "non-standard compression schema": known, same as ours
            warnings.simplefilter("ignore", UserWarning)
            profile = cog_profiles.get(options["compress"].lower())
        profile.update(blockxsize=512, blockysize=512, predictor=options.get("predictor", 1))
        if "level" in options:
            profile["level"] = options["level"]

        times: dict[str, list[float]] = {
            "process": [], "gdal": [], "tuned": [], "cogeo": [], "ratio": [], "ratio_tuned": []
        }  # fmt: skip
        cpu: dict[str, list[float]] = {"process": [], "gdal": [], "tuned": []}
        step_times: dict[str, list[float]] = {}
        sizes: dict[str, int] = {}
        for i in range(args.repeat):
            work = tmpdir / f"work{i}"
            lines: list[str] = []
            c0 = cpu_seconds()
            t_process, res = run_timed(process, request, work, Limits(), log=lines.append)
            cpu["process"].append(cpu_seconds() - c0)
            sizes["process"] = res.attributes["cog_size"]
            res.cog_path.unlink()
            for name, seconds in steps(lines).items():
                step_times.setdefault(name, []).append(seconds)

            gdal_dst = tmpdir / "gdal.tif"
            c0 = cpu_seconds()
            t_gdal, _ = run_timed(gdal_cog, src, gdal_dst, options)
            cpu["gdal"].append(cpu_seconds() - c0)
            sizes["gdal"] = gdal_dst.stat().st_size
            gdal_dst.unlink()
            c0 = cpu_seconds()
            t_tuned, _ = run_timed(gdal_cog, src, gdal_dst, options, SCRATCH_CONFIG)
            cpu["tuned"].append(cpu_seconds() - c0)
            gdal_dst.unlink()
            times["process"].append(t_process)
            times["gdal"].append(t_gdal)
            times["tuned"].append(t_tuned)
            times["ratio"].append(t_process / t_gdal)
            times["ratio_tuned"].append(t_process / t_tuned)
            line = (
                f"repeat {i + 1}: process() {t_process:.2f} s, GDAL COG driver {t_gdal:.2f} s, "
                f"with rastercat's configuration too {t_tuned:.2f} s"
            )

            if not args.no_cogeo:
                cogeo_dst = tmpdir / "cogeo.tif"
                t_cogeo, _ = run_timed(
                    cog_translate, src, cogeo_dst, profile,
                    overview_level=options.get("overview_count", 0),
                    overview_resampling=options["overview_resampling"].lower(),
                    config={"GDAL_NUM_THREADS": "ALL_CPUS"}, quiet=True,
                )  # fmt: skip
                times["cogeo"].append(t_cogeo)
                sizes["cogeo"] = cogeo_dst.stat().st_size
                cogeo_dst.unlink()
                line += f", rio-cogeo {times['cogeo'][-1]:.2f} s"
            print(line + f"; process / GDAL = {t_process / t_gdal:.2f}x", flush=True)

        print(f"\nmin / median / max over {args.repeat} interleaved repeat(s):")
        print(f"{'rastercat process()':<34}{spread(times['process']):>24} s   "
              f"CPU {spread(cpu['process'])} s")  # fmt: skip
        for name, values in step_times.items():
            print(f"    {name:<30}{spread(values):>24} s")
        print(f"{'GDAL COG driver (same options)':<34}{spread(times['gdal']):>24} s   "
              f"CPU {spread(cpu['gdal'])} s")  # fmt: skip
        print(f"{'  + ' + describe(SCRATCH_CONFIG):<34}{spread(times['tuned']):>24} s   "
              f"CPU {spread(cpu['tuned'])} s")  # fmt: skip
        if times["cogeo"]:
            print(f"{'rio-cogeo cog_translate':<34}{spread(times['cogeo']):>24} s")
        print(f"process / GDAL COG driver, per repeat: {spread(times['ratio'])}x  (aim <= 1.25x)")
        print(f"process / GDAL COG driver with rastercat's configuration too: "
              f"{spread(times['ratio_tuned'])}x")  # fmt: skip
        cog = step_times.get("COG written", [])
        if len(cog) == len(times["tuned"]):  # the same GDAL call on both sides
            print("  the COG step alone / that peer, per repeat: "
                  f"{spread([a / b for a, b in zip(cog, times['tuned'], strict=True)])}x")  # fmt: skip
        print("output sizes (bytes):", sizes)


if __name__ == "__main__":
    main()

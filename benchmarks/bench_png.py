"""PNG encoding of a 256-px tile: rastercat's (Pillow, :mod:`rastercat.raster.png`) against
rio-tiler's ``render`` (GDAL's PNG driver through rasterio), same pixels, same zlib level (1), a
smooth and a noisy tile, magma colormap. Prints ms per tile in one thread, bytes, and how much
more two threads get done than one (GDAL's encoding holds the GIL: under load it stalls every
other request of the process).

    python benchmarks/bench_png.py
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial

import numpy as np
from rio_tiler.utils import render

from rastercat.raster.colormaps import named_colormap
from rastercat.raster.png import encode_png


def speed(fn: Callable[[], bytes], n: int) -> tuple[float, float]:
    """(ms per call in one thread, work done by two threads / by one in the same time)."""
    t = time.perf_counter()
    for _ in range(n):
        fn()
    one = time.perf_counter() - t
    threads = [threading.Thread(target=lambda: [fn() for _ in range(n)]) for _ in range(2)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    two = time.perf_counter() - t
    return one / n * 1000, 2 * one / two


def main() -> None:
    rng = np.random.default_rng(0)
    smooth = (np.add.outer(np.arange(256), np.arange(256)) % 256).astype(np.uint8)
    noisy = np.clip(smooth + rng.integers(-20, 20, smooth.shape), 0, 255).astype(np.uint8)
    mask = np.full((256, 256), 255, np.uint8)
    mask[:40] = 0
    cmap = named_colormap("magma")
    for label, values in (("smooth", smooth), ("noisy", noisy)):
        data = values[np.newaxis]
        sides: dict[str, Callable[[], bytes]] = {
            "rastercat (Pillow)": partial(encode_png, data, mask, cmap),
            "rio-tiler render (GDAL)": partial(
                render, data, mask, img_format="PNG", colormap=cmap, ZLEVEL=1
            ),
        }
        ms = {}
        for name, fn in sides.items():
            fn()
            ms[name], gain = speed(fn, 200)
            print(f"{label:7} {name:24} {ms[name]:6.2f} ms  {len(fn()):7d} B  "
                  f"two threads: {gain:.2f}x one")  # fmt: skip
        ratio = ms["rastercat (Pillow)"] / ms["rio-tiler render (GDAL)"]
        print(f"{label:7} rastercat / rio-tiler, one thread: {ratio:.2f}x")


if __name__ == "__main__":
    main()

"""Registering existing COGs in place on local disk: ``Catalog.register_images`` over HTTP (files
checked like uploads: probe, rio-cogeo validation, every tile within the file, footprint,
checksum, statistics; then recorded through the bulk path, 100 per request). Prints files per
second (aim: >= 50/s), next to the peer a user would otherwise use: uploading the same files
(``upload_image``, then waiting until processed), on a sample, in the same run.

    python benchmarks/bench_register.py --files 1000
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np


def write_cogs(folder: Path, n: int, side: int) -> list[Path]:
    import rasterio
    import rasterio.shutil
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    folder.mkdir(parents=True, exist_ok=True)
    rows, cols = np.mgrid[0:side, 0:side]
    paths = []
    for i in range(n):
        data = ((rows * 7 + cols * 3 + i * 101) % 5000 + 1).astype("uint16")
        profile = dict(driver="GTiff", width=side, height=side, count=1, dtype="uint16",
                       crs="EPSG:32643", transform=from_origin(391395 + i * 30 * side, 5596530, 30, 30))  # fmt: skip
        path = folder / f"cog-{i:05d}.tif"
        with MemoryFile() as mem:
            with mem.open(**profile) as ds:
                ds.write(data, 1)
            with mem.open() as src:
                rasterio.shutil.copy(src, path, driver="COG", compress="ZSTD", blocksize=256)
        paths.append(path)
    return paths


def start(data_dir: Path, root: Path) -> tuple[Any, str, str]:
    import uvicorn

    from rastercat.api.app import create_app
    from rastercat.config import IngestSettings, RegisterSettings, Settings

    settings = Settings(
        data_dir=data_dir,
        ingest=IngestSettings(workers=2),
        registration=RegisterSettings(roots=[root]),
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    users = app.state.rc.users
    users.ensure_user("bench")
    return server, url, users.mint_token("bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--side", type=int, default=256, help="pixels per side of each COG")
    parser.add_argument("--sample", type=int, default=20, help="files uploaded for the peer")
    args = parser.parse_args()
    from rastercat.client.catalog import Catalog

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cogs"
        paths = write_cogs(root, args.files + args.sample, args.side)
        server, url, token = start(Path(tmp) / "data", root)
        try:
            catalog = Catalog(url, token, timeout=600)
            pid = catalog.add_product("register-bench", title="T", description="D")["data"]["id"]
            catalog.add_band(pid, "b", srcband=1, dtype="UInt16", nbits=16,
                             data_range=[0, 65535], type="spectral")  # fmt: skip
            clock, cpu = time.perf_counter(), time.process_time()
            results = catalog.register_images(pid, [str(p) for p in paths[: args.files]])
            reg_s = time.perf_counter() - clock
            # Client and server share this process: its CPU time is all the work done, a figure
            # that a busy shared machine distorts less than the wall clock.
            reg_cpu = time.process_time() - cpu
            assert all(r["status"] == "SUCCESS" and r["in_place"] for r in results)
            stored = list((Path(tmp) / "data" / "objects").rglob("*.tif"))
            assert not stored, "registering copied files into storage"
            clock = time.perf_counter()
            for p in paths[args.files :]:
                catalog.upload_image(str(p), pid)
            for p in paths[args.files :]:
                catalog.wait_for_image(pid, p.stem, timeout=600, poll=0.1)
            up_s = time.perf_counter() - clock
            reg_rate, up_rate = args.files / reg_s, args.sample / up_s
            print(
                f"register in place: {args.files} COGs of {args.side}^2 in {reg_s:.2f} s = "
                f"{reg_rate:,.1f} files/s ({args.files / reg_cpu:,.1f} per CPU-second) | "
                f"upload + ingest: {up_rate:,.1f} files/s "
                f"({args.sample} files) | ratio {reg_rate / up_rate:.1f}x"
            )
            catalog.close()
        finally:
            server.should_exit = True


if __name__ == "__main__":
    main()

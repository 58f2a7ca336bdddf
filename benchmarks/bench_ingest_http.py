"""Ingest through the real server: ``rastercat serve`` in a subprocess, timed from the first byte of
the upload until the image is searchable, against GDAL's COG driver on the same file with exactly
rastercat's creation options (read from the code and the default settings), in the same run; and
again with rastercat's GDAL configuration of the copy too (``to_cog.SCRATCH_CONFIG``).

    python benchmarks/bench_ingest_http.py                         # quick: 4000 x 4000 x 4
    python benchmarks/bench_ingest_http.py --size 10000 --repeat 5 --stream-mb 2048  # the issue's

Before the timed repeats each side converts the big file once, untimed in the ratios but printed
("cold"): the peer in this process, and rastercat once in each of its conversion processes (as
many uploads at once as it has workers). On this project's VM a process's first large conversion
finds its memory anew (about 1.3 GiB, 340,000 page faults) and took 2-3 s more system time than
the next one in the same process; the peer's process, which converts again and again, would
otherwise be warm while rastercat's were cold. ``--cold`` skips this.

The two sides run interleaved (peer, then an upload) ``--repeat`` times: on a shared machine the
absolute times drift with the load, so compare the per-repeat ratios. Each step of the processing
log, the CPU time of each side (the server and its conversion processes; the peer's process), and
the PUT are reported as min / median / max.

Also printed: many small files ingested in parallel (server CPU use over cores x wall time), and
the server's peak memory while it ingests the big file and while it receives a streamed PUT.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import rasterio
import rasterio.shutil
from bench_ingest import (
    cpu_seconds,
    describe,
    gdal_cog,
    make_input,
    rastercat_options,
    spread,
    timed,
)
from bench_ingest import steps as log_steps
from rasterio.transform import from_origin

from rastercat.ingest.to_cog import SCRATCH_CONFIG

CAT = "/metadata/v1/catalog"


class Server:
    def __init__(self, root: Path, workers: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.data = root / "data"
        env = {**os.environ, "RASTERCAT_CREDENTIALS": str(root / "credentials.json")}
        exe = Path(sys.executable).with_name("rastercat")
        self.proc = subprocess.Popen(
            [str(exe), "serve", "--port", str(self.port), "--data-dir", str(self.data),
             "--workers", str(workers), "--log-level", "warning"],
            env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("rastercat serve did not start")
            time.sleep(0.05)
        token = json.loads((self.data / "local-credentials.json").read_text())["token"]
        self.client = httpx.Client(base_url=self.url, headers={"Authorization": token}, timeout=600)

    def status(self, field: str) -> int:
        """A /proc/<pid>/status value in KiB (VmRSS, VmHWM)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def cpu_seconds(self) -> float:
        """CPU time of the server and its live children (the conversion processes)."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == self.proc.pid or ppid == self.proc.pid:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def product(self, name: str, bands: int) -> str:
        r = self.client.post(
            f"{CAT}/products", json={"id": name, "title": name, "description": "-"}
        )
        r.raise_for_status()
        pid = r.json()["data"]["id"]
        for i in range(1, bands + 1):
            self.client.post(
                f"{CAT}/products/{pid}/bands",
                json={
                    "name": f"b{i}",
                    "srcband": i,
                    "dtype": "UInt16",
                    "nbits": 16,
                    "data_range": [0, 65535],
                    "type": "spectral",
                },  # fmt: skip
            ).raise_for_status()
        return pid

    def put(self, pid: str, key: str, body: object) -> None:
        url = self.client.post(
            f"{CAT}/products/{pid}/images/upload/{key}",
            json={"process_controls": {"upload_type": "file"}},
        ).text
        httpx.put(url, content=body, timeout=600).raise_for_status()

    def wait_searchable(self, pid: str, count: int, uploads: list[str] = ()) -> None:
        """Until ``count`` images of the product are found by search. The given uploads are
        waited on by long polling (the server answers when each finishes: no polling load on
        the server while it converts); then search confirms."""
        for upload_id in uploads:
            r = self.client.get(f"{CAT}/products/{pid}/uploads/{upload_id}", params={"wait": 60})
            r.raise_for_status()
            if r.json()["data"]["attributes"]["status"] != "SUCCESS":
                raise RuntimeError(f"upload {upload_id} did not succeed: {r.json()}")
        while True:
            found = self.client.post(
                "/metadata/v1/search", json={"products": [pid], "limit": 1000}
            ).json()
            if len(found) >= count:
                return
            failed = self.client.post(f"{CAT}/products/{pid}/uploads", json={"status": "FAILURE"})
            if failed.json()["data"]:
                raise RuntimeError(f"an upload failed: {failed.json()['data'][0]}")
            time.sleep(0.05)

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait(60)


def warm_up(server: Server, pid: str, src: Path, tmp: Path, options: dict[str, Any],
            workers: int) -> int:  # fmt: skip
    """One untimed conversion of ``src`` by the peer (both configurations) and by each of
    rastercat's conversion processes (``workers`` uploads at once); prints the cold times.
    Returns the number of images it added to ``pid``."""
    cold = []
    for config in (None, SCRATCH_CONFIG):
        cold.append(timed(lambda config=config: gdal_cog(src, tmp / "gdal.tif", options, config)))
        (tmp / "gdal.tif").unlink()
    keys = [f"cold-{k}.tif" for k in range(workers)]

    def one(key: str) -> float:
        started = time.perf_counter()
        with src.open("rb") as f:
            server.put(pid, key, f)
        server.wait_searchable(pid, 0, [key])
        return time.perf_counter() - started

    with ThreadPoolExecutor(workers) as pool:
        ours = list(pool.map(one, keys))
    server.wait_searchable(pid, workers)
    print(f"cold, untimed in the ratios: GDAL COG driver {cold[0]:.2f} s (with rastercat's "
          f"configuration {cold[1]:.2f} s); rastercat, {workers} uploads at once (one per "
          f"conversion process): {', '.join(f'{t:.2f}' for t in ours)} s", flush=True)  # fmt: skip
    return workers


def job_log(job: dict[str, Any]) -> str:
    return str(job["attributes"]["logs"])


def machine_idle() -> float:
    """Seconds all cores have been idle (or waiting for I/O) since boot, from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()
    return (int(fields[4]) + int(fields[5])) / os.sysconf("SC_CLK_TCK")


def small_files(tmp: Path, n: int) -> list[Path]:
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        path = tmp / f"small-{i}.tif"
        with rasterio.open(
            path, "w", driver="GTiff", width=1024, height=1024, count=1, dtype="uint16",
            crs="EPSG:32643", transform=from_origin(391395.0, 5596530.0, 10.0, 10.0),
        ) as dst:  # fmt: skip
            dst.write(rng.integers(0, 4000, (1, 1024, 1024), dtype="uint16"))
        out.append(path)
    return out


def junk(size: int) -> Iterator[bytes]:
    chunk = b"\x07" * 2**20
    for _ in range(size // len(chunk)):
        yield chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000)
    parser.add_argument("--bands", type=int, default=4)
    parser.add_argument("--small", type=int, default=24, help="number of small files")
    parser.add_argument("--stream-mb", type=int, default=512, help="size of the streamed PUT")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeat", type=int, default=3, help="interleaved runs of each side")
    parser.add_argument("--cold", action="store_true",
                        help="no untimed conversion of the big file first, on either side")  # fmt: skip
    parser.add_argument("--skip-extras", action="store_true",
                        help="only the big file: no small files, no streamed PUT")  # fmt: skip
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory(prefix="rastercat-bench-") as t:
        tmp = Path(t)
        src = tmp / "input.tif"
        make_input(src, args.size, args.bands)
        server = Server(tmp, args.workers)
        try:
            # Warm-up: the first conversion also waits for the pool's processes to start; the
            # measurement is of a server that is already running.
            warm = server.product("warm", 1)
            server.put(warm, "warm.tif", small_files(tmp, 1)[0].read_bytes())
            server.wait_searchable(warm, 1, ["warm.tif"])
            pid = server.product("big", args.bands)
            rss0 = server.status("VmRSS")
            options = rastercat_options(src, args.bands)
            print(f"input {args.size} x {args.size} x {args.bands} UInt16, "
                  f"{src.stat().st_size / 2**20:.0f} MiB; {cores} cores")  # fmt: skip
            print(f"creation options (rastercat's, given to the peer too): {describe(options)}")
            runs: dict[str, list[float]] = {
                k: [] for k in ("http", "put", "job", "peer", "tuned", "ratio", "ratio_tuned")
            }
            cpu: dict[str, list[float]] = {"server": [], "peer": [], "tuned": []}
            step_times: dict[str, list[float]] = {}
            warmed = 0 if args.cold else warm_up(server, pid, src, tmp, options, args.workers)
            for i in range(args.repeat):
                c0 = cpu_seconds()
                t_peer = timed(lambda: gdal_cog(src, tmp / "gdal.tif", options))
                cpu["peer"].append(cpu_seconds() - c0)
                (tmp / "gdal.tif").unlink()
                c0 = cpu_seconds()
                t_tuned = timed(lambda: gdal_cog(src, tmp / "gdal.tif", options, SCRATCH_CONFIG))
                cpu["tuned"].append(cpu_seconds() - c0)
                (tmp / "gdal.tif").unlink()
                key = f"input-{i}.tif"
                marks: list[float] = []

                def ingest(
                    key: str = key, n: int = warmed + i + 1, marks: list[float] = marks
                ) -> None:
                    with src.open("rb") as f:
                        server.put(pid, key, f)
                    marks.append(time.perf_counter())
                    server.wait_searchable(pid, n, [key])

                s0 = server.cpu_seconds()
                t_http = timed(ingest)
                cpu["server"].append(server.cpu_seconds() - s0)
                t_put = t_http - (time.perf_counter() - marks[0])
                job = server.client.get(f"{CAT}/products/{pid}/uploads/{key}").json()["data"]
                for name, seconds in log_steps(job["attributes"]["logs"].splitlines()).items():
                    step_times.setdefault(name, []).append(seconds)
                cog_cpu = re.search(
                    r"COG written in [0-9.]+ s \(([0-9.]+) s CPU: ([0-9.]+) user, ([0-9.]+) system",
                    job_log(job),
                )
                if cog_cpu:
                    for part, value in zip(("cog", "cog_user", "cog_system"), cog_cpu.groups(),
                                           strict=True):  # fmt: skip
                        cpu.setdefault(part, []).append(float(value))
                for name, value in (("http", t_http), ("put", t_put), ("peer", t_peer),
                                    ("tuned", t_tuned), ("job", job["attributes"]["runtime"]),
                                    ("ratio", t_http / t_peer),
                                    ("ratio_tuned", t_http / t_tuned)):  # fmt: skip
                    runs[name].append(value)
                cog_wall = log_steps(job_log(job).splitlines()).get("COG written")
                if cog_wall is not None:  # the same GDAL call on both sides
                    runs.setdefault("cog_ratio", []).append(cog_wall / t_tuned)
                print(f"repeat {i + 1}: GDAL COG driver {t_peer:.2f} s (with rastercat's "
                      f"configuration {t_tuned:.2f} s), rastercat PUT -> searchable "
                      f"{t_http:.2f} s (PUT {t_put:.2f} s); {t_http / t_peer:.2f}x "
                      f"({t_http / t_tuned:.2f}x)", flush=True)  # fmt: skip
            big_peak = (server.status("VmHWM") - rss0) / 1024
            print(f"\nmin / median / max over {args.repeat} interleaved repeat(s):")
            print(f"{'rastercat upload -> searchable':<34}{spread(runs['http']):>24} s   "
                  f"CPU (server + conversion) {spread(cpu['server'])} s")  # fmt: skip
            print(f"    {'PUT':<30}{spread(runs['put']):>24} s")
            print(f"    {'job runtime':<30}{spread(runs['job']):>24} s")
            if cpu.get("cog"):
                print(f"      {'COG written: CPU':<28}{spread(cpu['cog']):>24} s (user "
                      f"{spread(cpu['cog_user'])}, system {spread(cpu['cog_system'])})")  # fmt: skip
            for name, values in step_times.items():  # where the job's time went, from its log
                print(f"      {name:<28}{spread(values):>24} s")
            print(f"{'GDAL COG driver (same options)':<34}{spread(runs['peer']):>24} s   "
                  f"CPU {spread(cpu['peer'])} s")  # fmt: skip
            print(f"{'  + ' + describe(SCRATCH_CONFIG):<34}{spread(runs['tuned']):>24} s   "
                  f"CPU {spread(cpu['tuned'])} s")  # fmt: skip
            print(f"rastercat / GDAL COG driver, per repeat: {spread(runs['ratio'])}x "
                  "(aim <= 1.25x)")  # fmt: skip
            print("rastercat / GDAL COG driver with rastercat's configuration too: "
                  f"{spread(runs['ratio_tuned'])}x")  # fmt: skip
            if runs.get("cog_ratio"):
                print("  the COG step alone / that peer, per repeat: "
                      f"{spread(runs['cog_ratio'])}x (wall); CPU, whole ingest / that peer: "
                      f"{spread([a / b for a, b in zip(cpu['server'], cpu['tuned'], strict=True)])}x")  # fmt: skip
            if args.skip_extras:
                return

            files = small_files(tmp, args.small)
            spid = server.product("small", 1)
            cpu0, idle0, w0 = server.cpu_seconds(), machine_idle(), time.perf_counter()
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda p: server.put(spid, p.name, p.read_bytes()), files))
            server.wait_searchable(spid, len(files), [p.name for p in files])
            wall = time.perf_counter() - w0
            busy = (server.cpu_seconds() - cpu0) / (wall * cores)
            machine = 1 - (machine_idle() - idle0) / (wall * cores)
            print(f"{args.small} small files (1024^2 UInt16), {args.workers} workers: {wall:.2f} s, "
                  f"server + conversion processes CPU {busy:.0%} of {cores} cores "
                  f"(the machine, this client included: {machine:.0%})")  # fmt: skip

            jpid = server.product("stream", 1)
            rss1 = server.status("VmRSS")
            hwm1 = server.status("VmHWM")
            t_put = timed(lambda: server.put(jpid, "junk.tif", junk(args.stream_mb * 2**20)))
            grew = (server.status("VmHWM") - max(rss1, hwm1)) / 1024
            print(f"server peak memory while ingesting the big file: +{big_peak:.0f} MiB over idle")
            print(f"streamed PUT of {args.stream_mb} MiB in {t_put:.1f} s: peak memory grew by "
                  f"{max(grew, 0):.0f} MiB beyond the earlier peak (target < 100 MiB)")  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()

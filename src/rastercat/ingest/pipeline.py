"""The ingest pipeline: probe -> plan -> write COG -> verify -> footprint and metadata.

:func:`process` is a pure function of the uploaded files: it writes only inside ``work_dir`` and
either returns a verified COG there or raises :class:`~rastercat.errors.IngestError` having
removed everything it wrote.
"""

from __future__ import annotations

import resource
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyproj
from rasterio.errors import RasterioError

from rastercat.config import Limits
from rastercat.errors import IngestError
from rastercat.ingest.footprint import footprint
from rastercat.ingest.gdal_env import ingest_env
from rastercat.ingest.plan import CogPlan, make_plan
from rastercat.ingest.probe import SourceInfo, check_same_grid, probe_file, probe_ndarray
from rastercat.ingest.stats import StatsBand, band_statistics
from rastercat.ingest.to_cog import write_cog
from rastercat.ingest.types import IngestRequest, IngestResult
from rastercat.ingest.verify import file_md5, verify_cog
from rastercat.store.objects import sync_file

TMP_PREFIX = "rastercat-tmp-"
"""Scratch files; never valid outside a running :func:`process`."""
COG_PREFIX = "rastercat-cog-"
"""Verified COGs waiting for the caller to move them into storage."""

__all__ = ["COG_PREFIX", "TMP_PREFIX", "clean_work_dir", "process", "verify_cog"]


def clean_work_dir(work_dir: Path) -> int:
    """Remove what an interrupted run left in ``work_dir``; call at start-up, before any job."""
    work_dir = Path(work_dir)
    if not work_dir.is_dir():
        return 0
    removed = 0
    for path in work_dir.iterdir():
        if path.name.startswith((TMP_PREFIX, COG_PREFIX)) and path.is_file():
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def parse_tiff_datetime(value: str | None) -> str | None:
    """``YYYY:MM:DD HH:MM:SS`` (TIFFTAG_DATETIME, taken as UTC) -> ISO-8601, or None."""
    if not value:
        return None
    try:
        parsed = datetime.strptime(value.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC).isoformat()


def proj4_string(wkt: str) -> str:
    """The PROJ.4 form of a CRS, as the guide-era service reported it."""
    with warnings.catch_warnings():
        # pyproj warns that PROJ.4 strings lose information; that is understood and accepted.
        warnings.simplefilter("ignore", UserWarning)
        text = pyproj.CRS.from_wkt(wkt).to_proj4()
    return text.replace(" +type=crs", "").strip()


def _probe(request: IngestRequest, limits: Limits) -> list[SourceInfo]:
    if not request.files:
        raise IngestError("the upload has no files")
    if request.upload_type == "ndarray":
        if len(request.files) != 1:
            raise IngestError(f"an ndarray upload is one .npy file, got {len(request.files)}")
        return [probe_ndarray(request.files[0], request.geotrans, request.crs, limits)]
    if request.upload_type != "file":
        raise IngestError(f"unknown upload_type {request.upload_type!r}")
    sources = [probe_file(i, Path(p), limits) for i, p in enumerate(request.files)]
    check_same_grid(sources)
    return sources


def _attributes(
    request: IngestRequest, plan: CogPlan, sources: list[SourceInfo], cog: Path, log: Any
) -> dict[str, Any]:
    """Everything but the checksums, which :class:`_Checksums` computes beside these steps."""
    first = sources[0]
    attrs: dict[str, Any] = {
        "proj4": proj4_string(first.crs.to_wkt()),
        "wkt": first.crs.to_wkt(),
        "geotrans": [float(c) for c in first.transform.to_gdal()],
        "raster_size": [first.width, first.height],
    }
    epsg = first.crs.to_epsg()
    if epsg is not None:
        attrs["cs_code"] = f"EPSG:{epsg}"
    alpha = next((i for i, b in enumerate(plan.bands, 1) if b.alpha), None)
    geometry, any_valid = footprint(cog, alpha)
    if not any_valid:
        log("no valid pixel found (all nodata); the footprint is the raster outline")
    attrs["geometry"] = geometry
    for src in sources:
        acquired = parse_tiff_datetime(src.datetime)
        if acquired is not None:
            attrs["acquired"] = acquired
            log(f"acquired {acquired} from the TIFF DATETIME tag of {src.label}")
            break
        if src.datetime:
            log(f"ignored unreadable TIFF DATETIME {src.datetime!r} of {src.label}")
    cog_size = cog.stat().st_size
    # The COG interleaves pixels, so per-band sizes are not separable: report the average.
    bpp = round(cog_size * 8 / (first.width * first.height * len(plan.bands)), 4)
    attrs["bits_per_pixel"] = [bpp] * len(plan.bands)
    attrs["file_sizes"] = [Path(p).stat().st_size for p in request.files]
    attrs["cog_size"] = cog_size
    return attrs


class _Checksums:
    """The md5s of the COG (and of the inputs when asked), hashed in one thread while this one
    verifies, traces the footprint and computes statistics. hashlib releases the GIL, so on an
    idle core the hash costs no wall time; it is the one step that reads the whole COG. The hash
    starts only once GDAL has closed the COG: nothing writes to it afterwards, so the digest is
    of the bytes that are verified and stored. ``cancel`` stops it early when a step fails.

    Beside it, a second thread writes the COG to disk (``fdatasync``): the store's durable put,
    before the record is committed, then finds nothing left to write (measured: 0.4 s for a
    500 MiB COG, no longer after the checksum)."""

    def __init__(self, cog: Path, inputs: list[Path]) -> None:
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rastercat-md5")
        self._started = time.perf_counter()
        self._synced = self._pool.submit(sync_file, cog)  # its pages stay: the md5 reads them
        self._cog: Future[str] = self._pool.submit(file_md5, cog, self._stop)
        self._inputs = [self._pool.submit(file_md5, p, self._stop) for p in inputs]
        self._pool.shutdown(wait=False)
        self.seconds = 0.0
        """Wall time from the start of hashing until the COG's digest was ready."""

    def cog_md5(self) -> str:
        digest = self._cog.result()
        self.seconds = time.perf_counter() - self._started
        return digest

    def wait_synced(self) -> None:
        self._synced.result()

    def input_md5s(self) -> list[str]:
        return [f.result() for f in self._inputs]

    def cancel(self) -> None:
        self._stop.set()


def _cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU time of this process, every thread (GDAL's compression threads too)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def _statistics(plan: CogPlan, cog: Path) -> list[dict[str, Any]]:
    """Per-band statistics keyed by each product band's srcfile/srcband."""
    bands = [
        StatsBand(srcfile=b.spec.srcfile, srcband=b.srcband, nodata=b.nodata, alpha=b.alpha)
        for b in plan.bands
    ]
    return band_statistics(cog, bands)


def _write(request: IngestRequest, plan: CogPlan, tmp_cog: Path, staging: Path) -> str:
    try:
        return write_cog(plan, tmp_cog, staging, request.compression, request.compression_level)
    except (IngestError, MemoryError):
        raise
    except Exception as exc:  # GDAL raises several classes (CPLE_*) for unreadable pixels
        # Headers were fine (probe passed), so a failure here is the upload's pixel data.
        raise IngestError(
            f"could not read the pixels of the upload (the file may be truncated or corrupt): {exc}"
        ) from exc


def process(
    request: IngestRequest,
    work_dir: Path,
    limits: Limits,
    log: Callable[[str], None] | None = None,
) -> IngestResult:
    """Turn an upload into one verified COG in ``work_dir`` plus its inferred attributes.

    Raises :class:`IngestError` with a message a user understands for every bad input.
    """
    lines: list[str] = []

    def say(line: str) -> None:
        lines.append(line)
        if log is not None:
            log(line)

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex
    staging = work_dir / f"{TMP_PREFIX}{token}-stage.tif"
    tmp_cog = work_dir / f"{TMP_PREFIX}{token}.tif"
    final = work_dir / f"{COG_PREFIX}{token}.tif"
    ok = False
    try:
        with ingest_env():
            sources = _probe(request, limits)
            for src in sources:
                say(
                    f"{src.label}: {src.driver}, {src.width} x {src.height} pixels, {src.count} "
                    f"band(s) {','.join(src.dtypes)}"
                )
            plan = make_plan(request, sources)
            say(
                f"COG: {len(plan.bands)} band(s) ({', '.join(b.spec.name for b in plan.bands)}) "
                f"as {plan.dtype}, nodata {plan.nodata}, overviews {list(plan.overview_factors)} "
                f"({plan.resampling}), {request.compression} level {request.compression_level}"
            )
            clock, cpu = time.perf_counter(), _cpu_seconds()
            route = _write(request, plan, tmp_cog, staging)
            user, system = (b - a for a, b in zip(cpu, _cpu_seconds(), strict=True))
            say(
                f"COG written in {time.perf_counter() - clock:.2f} s "
                f"({user + system:.2f} s CPU: {user:.2f} user, {system:.2f} system): {route}"
            )
            staging.unlink(missing_ok=True)
        hashes = _Checksums(
            tmp_cog, [Path(p) for p in request.files] if request.hash_inputs else []
        )
        try:
            clock = time.perf_counter()
            verify_cog(tmp_cog, decode=False)
            say(
                f"COG verified in {time.perf_counter() - clock:.2f} s: valid layout, every tile "
                "within the file"
            )
            clock = time.perf_counter()
            with ingest_env():
                attributes = _attributes(request, plan, sources, tmp_cog, say)
            say(f"footprint in {time.perf_counter() - clock:.2f} s")
            clock = time.perf_counter()
            with ingest_env():
                attributes["statistics"] = _statistics(plan, tmp_cog)
            say(f"statistics in {time.perf_counter() - clock:.2f} s")
            clock = time.perf_counter()
            attributes["cog_md5"] = hashes.cog_md5()
            if request.hash_inputs:
                attributes["file_md5s"] = hashes.input_md5s()
            hashes.wait_synced()
        except BaseException:
            hashes.cancel()
            raise
        say(
            f"checksum in {hashes.seconds:.2f} s (md5 of the COG, hashed beside the steps above "
            f"while the COG was written to disk; {time.perf_counter() - clock:.2f} s of both "
            "waited for)"
        )
        tmp_cog.replace(final)
        ok = True
        return IngestResult(
            cog_path=final,
            band_names=tuple(b.spec.name for b in plan.bands),
            attributes=attributes,
            log=tuple(lines),
        )
    except IngestError:
        raise
    except MemoryError as exc:
        raise IngestError(
            "ran out of memory while processing the upload", failure_type="oom"
        ) from exc
    except (RasterioError, OSError, ValueError, TypeError, KeyError) as exc:
        raise IngestError(f"processing failed: {exc}") from exc
    except Exception as exc:  # the user must get an IngestError, never a library's exception
        raise IngestError(
            f"processing failed unexpectedly: {type(exc).__name__}: {exc}", failure_type="internal"
        ) from exc
    finally:
        staging.unlink(missing_ok=True)
        tmp_cog.unlink(missing_ok=True)
        if not ok:
            final.unlink(missing_ok=True)


def describe_cog(
    request: IngestRequest,
    plan: CogPlan,
    sources: list[SourceInfo],
    cog: Path,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """What :func:`process` records about a verified COG (georeferencing, footprint, checksum,
    statistics), for a COG it did not write: one registered in place."""
    with ingest_env():
        attributes = _attributes(request, plan, sources, cog, log)
        attributes["statistics"] = _statistics(plan, cog)
    attributes["cog_md5"] = file_md5(cog)
    return attributes

"""Run the ingest pipeline in worker processes.

The embedded server runs its ingest workers beside the API in one Python process. GDAL releases the
GIL while it compresses, but the Python around it (probing, planning, footprints, hashing) does not,
and it competed with the API's event loop: 24 small files on 2 cores kept the CPU under half busy.
Each conversion runs in a process of a small pool instead; results and log lines come back pickled.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from rastercat.config import Limits
from rastercat.errors import IngestError
from rastercat.ingest.types import IngestRequest, IngestResult

log = logging.getLogger("rastercat.ingest")

CANNOT_START = (
    "the ingest conversion processes cannot start here, so conversions run inside this process. "
    "If rastercat's app is started from a script, put the code that starts it under "
    '`if __name__ == "__main__":` (the processes are spawned, and re-run the script\'s top level)'
)


def run_pipeline(
    request: IngestRequest, work_dir: Path, limits: Limits
) -> tuple[IngestResult | None, tuple[str, str] | None, list[str]]:
    """In the child: ``(result, None, log)`` or ``(None, (message, failure_type), log)``."""
    from rastercat.ingest.pipeline import process

    lines: list[str] = []
    try:
        return process(request, work_dir, limits, log=lines.append), None, lines
    except IngestError as exc:
        return None, (exc.message, exc.failure_type), lines


def _warm_up() -> None:
    """Import the pipeline (rasterio, GDAL, pyproj) once, before the first job needs it."""
    import rastercat.ingest.pipeline  # noqa: F401


class PipelinePool:
    """A lazily started process pool that survives a child being killed (e.g. by the OOM killer).

    If no child has ever worked (the processes cannot start at all, as in a script with no
    ``__main__`` guard), conversions fall back to this process instead of failing every job.
    """

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._worked = False
        """A child has finished a task: a broken pool from now on means a child died."""
        self.in_process = False
        """Children cannot start here: every conversion runs in this process."""

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn: the parent runs threads (the API, other workers); forking them is unsafe.
                ctx = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(max_workers=self.size, mp_context=ctx)
            return self._executor

    def warm(self) -> None:
        """Start the children and their imports now, so the first upload does not wait for them."""
        pool = self._pool()
        for _ in range(self.size):
            pool.submit(_warm_up).add_done_callback(self._warmed)

    def _warmed(self, future: Future[None]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is None:
            self._worked = True
        elif isinstance(error, BrokenProcessPool) and not self._worked:
            self._give_up()

    def _give_up(self) -> None:
        with self._lock:
            if self.in_process:
                return
            self.in_process = True
            executor, self._executor = self._executor, None
        log.error(CANNOT_START)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def run(
        self, request: IngestRequest, work_dir: Path, limits: Limits, note: Any
    ) -> IngestResult:
        if self.in_process:
            return self._run_here(request, work_dir, limits, note)
        pool = self._pool()
        try:
            result, error, lines = pool.submit(run_pipeline, request, work_dir, limits).result()
            self._worked = True
        except BrokenProcessPool:
            if not self._worked:
                self._give_up()
                return self._run_here(request, work_dir, limits, note)
            with self._lock:
                if self._executor is pool:
                    self._executor = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise IngestError(
                "the conversion process died (killed, or out of memory)", failure_type="oom"
            ) from None
        for line in lines:
            note(line)
        if error is not None:
            raise IngestError(error[0], failure_type=error[1])
        assert result is not None
        return result

    @staticmethod
    def _run_here(
        request: IngestRequest, work_dir: Path, limits: Limits, note: Any
    ) -> IngestResult:
        from rastercat.ingest.pipeline import process

        return process(request, work_dir, limits, log=note)

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

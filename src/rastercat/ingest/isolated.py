"""Run the ingest pipeline in worker processes.

The embedded server runs its ingest workers beside the API in one Python process. GDAL releases the
GIL while it compresses, but the Python around it (probing, planning, footprints, hashing) does not,
and it competed with the API's event loop: 24 small files on 2 cores kept the CPU under half busy.
Each conversion runs in a process of a small pool instead; results and log lines come back pickled.

Each child runs under a memory limit (``ingest.child_memory_bytes``): a conversion that exceeds it
ends its job FAILURE, and a child that dies takes only its own job with it. A conversion runs in the
API process only when the children cannot start at all (a script with no ``__main__`` guard),
never because a child died.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
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


def limit_memory(limit: int) -> None:
    """In the child, at start: cap its data segment (heap and anonymous mappings, where numpy and
    GDAL allocate) at ``limit`` bytes; 0 leaves it unlimited. ``RLIMIT_DATA`` rather than
    ``RLIMIT_AS``: address space reserved but never used (thread stacks, allocator arenas) would
    count against ``RLIMIT_AS`` and fail conversions that use little memory."""
    if limit <= 0:
        return
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))


def _out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is an allocation failure, Python's or GDAL's."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, MemoryError) or type(seen).__name__ == "CPLE_OutOfMemoryError":
            return True
        text = str(seen).lower()
        if "out of memory" in text or "cannot allocate" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _memory_message(exc: IngestError) -> str:
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_DATA)
    if soft == resource.RLIM_INFINITY:
        return f"ran out of memory while converting the upload ({exc.message})"
    return (
        f"ran out of memory: the conversion needed more than the {soft} bytes a conversion "
        "process may use (ingest.child_memory_bytes) -- the file is too large or decodes to too "
        f"much at once ({exc.message})"
    )


def run_pipeline(
    request: IngestRequest, work_dir: Path, limits: Limits
) -> tuple[IngestResult | None, tuple[str, str] | None, list[str]]:
    """In the child: ``(result, None, log)`` or ``(None, (message, failure_type), log)``."""
    from rastercat.ingest.pipeline import process

    lines = [f"converting in process {os.getpid()} (niceness {os.nice(0)})"]
    try:
        return process(request, work_dir, limits, log=lines.append), None, lines
    except IngestError as exc:
        if _out_of_memory(exc):
            return None, (_memory_message(exc), "oom"), lines
        return None, (exc.message, exc.failure_type), lines
    except MemoryError as exc:  # raised outside the pipeline's own handlers
        return None, (_memory_message(IngestError(str(exc) or "MemoryError")), "oom"), lines


def _warm_up() -> None:
    """Import the pipeline (rasterio, GDAL, pyproj) once, before the first job needs it."""
    import rastercat.ingest.pipeline  # noqa: F401


PARENT_CHECK_SECONDS = 1.0
"""How often a conversion process checks that the server that started it is still there."""


def _exit_with_parent() -> None:
    """End this child once the server that started it is gone: a server killed with SIGKILL
    (the OOM killer, a machine's supervisor) otherwise left its conversion processes behind, idle
    once their job was done and nobody read the result. A thread that checks the parent's pid
    rather than ``PR_SET_PDEATHSIG``, which fires when the *thread* that started the child ends
    (children start from whichever ingest thread submitted a job)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_CHECK_SECONDS)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="rastercat-parent-watch", daemon=True).start()


def _child_start(memory_bytes: int, started: Any, nice: int = 0) -> None:
    """Initializer of every child: say it started, then limit its memory and lower its priority
    (before GDAL starts its compression threads: they inherit it), and end it with the server."""
    started.set()
    _exit_with_parent()
    limit_memory(memory_bytes)
    if nice > 0:
        os.nice(nice)


class PipelinePool:
    """A lazily started process pool that survives a child being killed (e.g. by the OOM killer).

    If the processes cannot start at all (as in a script with no ``__main__`` guard), conversions
    fall back to this process instead of failing every job. A child that dies while converting
    (killed, out of memory) never sends its upload to this process: the job is tried once more
    on a fresh pool (the child may have died of another job's file: the pool breaks as a whole),
    then fails.
    """

    def __init__(self, size: int, memory_bytes: int = 0, nice: int = 0) -> None:
        self.size = max(1, size)
        self.memory_bytes = memory_bytes
        """``RLIMIT_DATA`` of each child (0: unlimited)."""
        self.nice = nice
        """Niceness each child adds to its own (0: as the parent)."""
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._ctx = multiprocessing.get_context("spawn")
        # spawn: the parent runs threads (the API, other workers); forking them is unsafe.
        self._started = self._ctx.Event()
        """Set by the first child that got as far as its initializer: children can start here,
        so a broken pool means a child died, not that none can run."""
        self.in_process = False
        """Children cannot start here: every conversion runs in this process."""

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    max_workers=self.size,
                    mp_context=self._ctx,
                    initializer=_child_start,
                    initargs=(self.memory_bytes, self._started, self.nice),
                )
            return self._executor

    def warm(self) -> None:
        """Start the children and their imports now, so the first upload does not wait for them."""
        pool = self._pool()
        for _ in range(self.size):
            pool.submit(_warm_up).add_done_callback(self._warmed)

    def _warmed(self, future: Future[None]) -> None:
        if future.cancelled():
            return
        if isinstance(future.exception(), BrokenProcessPool) and not self._started.is_set():
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
        for tries in (1, 2):
            if self.in_process:
                return self._run_here(request, work_dir, limits, note)
            pool = self._pool()
            try:
                result, error, lines = pool.submit(run_pipeline, request, work_dir, limits).result()
                break
            except BrokenProcessPool:
                self._discard(pool)
                if not self._started.is_set():
                    self._give_up()  # no child ever started: they cannot, here
                    continue
                if tries == 1:
                    note("the conversion process died; converting again in a fresh process")
                    continue
                limit = (
                    f"; each may use {self.memory_bytes} bytes (ingest.child_memory_bytes)"
                    if self.memory_bytes > 0
                    else ""
                )
                raise IngestError(
                    "the conversion process died while converting this upload, twice (killed, "
                    f"or out of memory{limit})",
                    failure_type="oom",
                ) from None
        else:  # the pool broke before any child started: give_up() chose this process
            return self._run_here(request, work_dir, limits, note)
        for line in lines:
            note(line)
        if error is not None:
            raise IngestError(error[0], failure_type=error[1])
        assert result is not None
        return result

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._executor is pool:
                self._executor = None
        pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _run_here(
        request: IngestRequest, work_dir: Path, limits: Limits, note: Any
    ) -> IngestResult:
        from rastercat.ingest.pipeline import process

        note(f"converting in this process (pid {os.getpid()}): {CANNOT_START}")
        return process(request, work_dir, limits, log=note)

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

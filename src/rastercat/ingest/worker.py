"""In-process ingest workers: threads that claim jobs from the database and run them; and the
signal that wakes HTTP requests waiting for jobs to finish."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from rastercat.ingest.jobs import JobRunner
from rastercat.periodic import Periodic

log = logging.getLogger("rastercat.ingest")


class WorkerPool:
    def __init__(
        self,
        runner: JobRunner,
        size: int,
        poll_interval: float = 0.5,
        on_finished: Callable[[str], None] | None = None,
    ) -> None:
        self.runner = runner
        self.on_finished = on_finished
        """Called with the job's uid once a run of it has ended, whatever the outcome."""
        self.size = max(1, size)
        self.poll_interval = poll_interval
        # Each thread claims a job at once, again as soon as one ends, else every poll_interval
        # seconds or when woken (a job became PENDING).
        self._loops = [
            Periodic(self._run_one, poll_interval, f"rastercat-ingest-{i}", immediately=True)
            for i in range(self.size)
        ]

    def start(self) -> None:
        for loop in self._loops:
            loop.start()

    def wake(self) -> None:
        for loop in self._loops:
            loop.wake()

    def stop(self, timeout: float = 10.0) -> None:
        for loop in self._loops:  # all told first: each then finishes its job at the same time
            loop.stopped.set()
            loop.wake()
        for loop in self._loops:
            loop.stop(timeout)

    def _run_one(self) -> bool:
        """Claim a job and run it; True when one ran (look for the next at once)."""
        try:
            job = self.runner.claim()
        except Exception:  # a locked or unavailable database: try again shortly
            log.exception("could not claim an ingest job")
            return False
        if job is None:
            return False
        try:
            self.runner.run(job)
        except Exception:
            log.exception("ingest job %s crashed", job.get("uid"))
        finally:
            if self.on_finished is not None:
                self.on_finished(job["uid"])
        return True


class JobEvents:
    """Wakes HTTP requests that wait for an ingest job to finish (long polls of upload results).

    Ingest workers run in threads (or, with Celery, in other processes); a waiting request runs on
    the event loop. A worker of this process calls :meth:`finished` from its thread; every waiter
    wakes and re-reads its job from the database, which stays the truth. Waiters also re-read on a
    short period, so jobs finished by another process (a Celery worker) are noticed without any
    signal.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.closed = False
        """The server is stopping: waits end at once."""

    def close(self) -> None:
        """End every wait now and from now on (the server is stopping)."""
        self.closed = True
        self.finished()

    def finished(self, _uid: str | None = None) -> None:
        """A job ended (any thread): wake every waiting request."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed: its request is gone
                pass

    async def wait(self, timeout: float) -> bool:
        """Until some job ends or ``timeout`` seconds pass; True when woken by a job."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(entry)
        if self.closed:  # closed before this waiter was registered: it would not be woken
            entry[1].set()
        try:
            await asyncio.wait_for(entry[1].wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)

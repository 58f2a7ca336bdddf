"""In-process ingest workers: threads that claim jobs from the database and run them."""

from __future__ import annotations

import logging
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

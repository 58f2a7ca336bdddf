"""In-process ingest workers: threads that claim jobs from the database and run them."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from rastercat.ingest.jobs import JobRunner

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
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for i in range(self.size):
            th = threading.Thread(target=self._loop, name=f"rastercat-ingest-{i}", daemon=True)
            th.start()
            self._threads.append(th)

    def wake(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self.wake()
        for th in self._threads:
            th.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self.runner.claim()
            except Exception:  # a locked or unavailable database: try again shortly
                log.exception("could not claim an ingest job")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(self.poll_interval)
                continue
            try:
                self.runner.run(job)
            except Exception:
                log.exception("ingest job %s crashed", job.get("uid"))
            finally:
                if self.on_finished is not None:
                    self.on_finished(job["uid"])

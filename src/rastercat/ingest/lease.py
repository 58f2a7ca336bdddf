"""The lease of a running ingest job, kept alive by a heartbeat while its attempt runs.

A claimed job is owned until ``lease_until``; any worker may claim it again after that. The lease
is short, so the job of a worker that died is soon picked up; a heartbeat renews it while the
attempt really runs, so a long conversion is never claimed a second time meanwhile. Renewals are
fenced by the attempt number: an attempt that lost its job (taken over after its lease ran out)
never extends the lease of the attempt that took it over.
"""

from __future__ import annotations

import logging
import threading
import time

from rastercat.periodic import Periodic
from rastercat.store.ports import JobRepository
from rastercat.store.sql.jobs import Jobs
from rastercat.store.sql.repo import Repo

log = logging.getLogger("rastercat.ingest")


class Heartbeat:
    """Keeps job ``uid``'s lease ``lease`` seconds ahead while its attempt ``attempt`` runs (the
    ``with`` block); stops by itself once the attempt no longer owns the job."""

    def __init__(self, repo: Repo, uid: str, attempt: int, lease: float) -> None:
        self.repo, self.uid, self.attempt, self.lease = repo, uid, attempt, lease
        self.jobs: JobRepository = Jobs(repo)
        self.lost = threading.Event()
        """Set when a renewal found the job taken over or finished elsewhere."""
        # A database hiccup is logged, and the next beat tries again.
        self._beats = Periodic(
            self._beat,
            lease / 3,
            f"lease-{uid}-{attempt}",
            failure=f"could not renew the lease of {uid}",
            logger=log,
        )

    def renew(self) -> bool:
        return self.jobs.extend_lease(self.uid, self.attempt, time.time() + self.lease)

    def _beat(self) -> None:
        if not self.renew():
            self.lost.set()
            log.warning("ingest job %s: attempt %d no longer owns the job", self.uid, self.attempt)
            self._beats.stop()

    def __enter__(self) -> Heartbeat:
        self._beats.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._beats.stop(5)

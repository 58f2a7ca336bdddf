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

import sqlalchemy as sa

from rastercat.store.sql.repo import Repo, t

log = logging.getLogger("rastercat.ingest")


class Heartbeat:
    """Keeps job ``uid``'s lease ``lease`` seconds ahead while its attempt ``attempt`` runs (the
    ``with`` block); stops by itself once the attempt no longer owns the job."""

    def __init__(self, repo: Repo, uid: str, attempt: int, lease: float) -> None:
        self.repo, self.uid, self.attempt, self.lease = repo, uid, attempt, lease
        self.lost = threading.Event()
        """Set when a renewal found the job taken over or finished elsewhere."""
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"lease-{uid}-{attempt}", daemon=True
        )

    def renew(self) -> bool:
        with self.repo.tx() as conn:
            result = conn.execute(
                sa.update(t.uploads)
                .where(
                    t.uploads.c.uid == self.uid,
                    t.uploads.c.status == "RUNNING",
                    t.uploads.c.attempts == self.attempt,
                )
                .values(lease_until=time.time() + self.lease)
            )
            return bool(result.rowcount)

    def _loop(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                if not self.renew():
                    self.lost.set()
                    log.warning(
                        "ingest job %s: attempt %d no longer owns the job", self.uid, self.attempt
                    )
                    return
            except Exception:  # a database hiccup: the next beat tries again
                log.warning("could not renew the lease of %s", self.uid, exc_info=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)

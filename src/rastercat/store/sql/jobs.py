"""Ingest jobs: rows of ``uploads`` once their bytes have arrived (PENDING, RUNNING under a lease,
SUCCESS or FAILURE). Every change of a job's status is conditional on the attempt that makes it
still owning the job, so a superseded attempt changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from rastercat.store.sql import tables as t
from rastercat.store.sql.repo import Repo, utcnow

OPEN_GROUP = ("WAITING", "RUNNING", "PENDING")
"""Statuses of the files of a multi-file scene still being ingested."""


class Jobs:
    """The ingest side of the ``uploads`` table through one :class:`Repo`."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def find(self, conn: sa.Connection, uid: str) -> dict[str, Any] | None:
        return self.repo.one(t.uploads, conn, uid=uid)

    def requeue_running(self) -> int:
        """Every RUNNING job back to PENDING; returns how many."""
        with self.repo.tx() as conn:
            result = conn.execute(
                sa.update(t.uploads)
                .where(t.uploads.c.status == "RUNNING")
                .values(status="PENDING", lease_until=None, updated=utcnow())
            )
            return int(result.rowcount or 0)

    def stranded(self, cutoff: datetime, now: float) -> list[str]:
        """The uids of jobs no message may be carrying: PENDING since before ``cutoff``, or
        RUNNING with a lease that ran out before ``now``."""
        with self.repo.tx() as conn:
            return [
                r[0]
                for r in conn.execute(
                    sa.select(t.uploads.c.uid).where(
                        sa.or_(
                            sa.and_(t.uploads.c.status == "PENDING", t.uploads.c.updated < cutoff),
                            sa.and_(t.uploads.c.status == "RUNNING", t.uploads.c.lease_until < now),
                        )
                    )
                )
            ]

    def extend_lease(self, uid: str, attempt: int, until: float) -> bool:
        """Job ``uid``'s lease until ``until`` while attempt ``attempt`` still runs it; False when
        the job was taken over or finished elsewhere."""
        with self.repo.tx() as conn:
            result = conn.execute(
                sa.update(t.uploads)
                .where(
                    t.uploads.c.uid == uid,
                    t.uploads.c.status == "RUNNING",
                    t.uploads.c.attempts == attempt,
                )
                .values(lease_until=until)
            )
            return bool(result.rowcount)

    def claim(self, uid: str | None, now: float, lease: float) -> dict[str, Any] | None:
        """The first PENDING job, or RUNNING one whose lease ran out (only ``uid`` if given),
        made RUNNING under a lease until ``now + lease`` with one more attempt; None if none."""
        with self.repo.tx() as conn:
            stmt = sa.select(t.uploads).where(
                sa.or_(
                    t.uploads.c.status == "PENDING",
                    sa.and_(t.uploads.c.status == "RUNNING", t.uploads.c.lease_until < now),
                )
            )
            if uid is not None:
                stmt = stmt.where(t.uploads.c.uid == uid)
            row = conn.execute(
                stmt.order_by(t.uploads.c.pk).limit(1).with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            job = dict(row._mapping)
            job["attempts"] += 1
            self.repo.update(
                t.uploads,
                job["pk"],
                {
                    "status": "RUNNING",
                    "attempts": job["attempts"],
                    "lease_until": now + lease,
                    "updated": utcnow(),
                },  # fmt: skip
                conn,
            )
            return job

    def group(
        self, product_uid: str, group_key: str, statuses: Sequence[str] = OPEN_GROUP, *,
        ordered: bool = True,
    ) -> list[dict[str, Any]]:  # fmt: skip
        """The files of one multi-file scene in the given statuses (in upload order)."""
        return self.repo.all(
            t.uploads,
            t.uploads.c.product_uid == product_uid,
            t.uploads.c.group_key == group_key,
            t.uploads.c.status.in_(tuple(statuses)),
            order_by=[t.uploads.c.pk] if ordered else (),
        )

    def succeed(self, conn: sa.Connection, pks: Sequence[int], log: str, runtime: float) -> None:
        """SUCCESS for the jobs of ``pks`` (the files of the finalized image)."""
        conn.execute(
            sa.update(t.uploads)
            .where(t.uploads.c.pk.in_(list(pks)))
            .values(
                status="SUCCESS",
                log=log,
                runtime=runtime,
                lease_until=None,
                updated=utcnow(),
                failure_type=None,
                exception_name=None,
            )  # fmt: skip
        )

    def fail(
        self, job: dict[str, Any], failure_type: str, name: str, log: str, runtime: float
    ) -> bool:
        """FAILURE for the job (all files of its scene) while this attempt still owns it; False
        when it no longer does."""
        with self.repo.tx() as conn:
            # Only while this attempt still owns the job: never overwrite another attempt's result.
            clauses = [
                t.uploads.c.pk == job["pk"],
                t.uploads.c.status == "RUNNING",
                t.uploads.c.attempts == job["attempts"],
            ]
            if job["group_key"]:
                current = self.repo.one(t.uploads, conn, pk=job["pk"])
                if (
                    current is None
                    or current["status"] != "RUNNING"
                    or current["attempts"] != job["attempts"]
                ):
                    return False
                clauses = [
                    t.uploads.c.product_uid == job["product_uid"],
                    t.uploads.c.group_key == job["group_key"],
                    t.uploads.c.status.in_(("WAITING", "RUNNING")),
                ]
            result = conn.execute(
                sa.update(t.uploads)
                .where(*clauses)
                .values(
                    status="FAILURE",
                    log=log,
                    failure_type=failure_type,
                    exception_name=name,
                    runtime=runtime,
                    lease_until=None,
                    updated=utcnow(),
                )  # fmt: skip
            )
            return bool(result.rowcount)

    def retry(self, job: dict[str, Any], log: str) -> bool:
        """Back to PENDING while this attempt still owns the job; False when it no longer does."""
        with self.repo.tx() as conn:
            result = conn.execute(
                sa.update(t.uploads)
                .where(
                    t.uploads.c.pk == job["pk"],
                    t.uploads.c.status == "RUNNING",
                    t.uploads.c.attempts == job["attempts"],
                )
                .values(status="PENDING", log=log, lease_until=None, updated=utcnow())
            )
            return bool(result.rowcount)


__all__ = ["OPEN_GROUP", "Jobs"]

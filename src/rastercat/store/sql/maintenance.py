"""The rows background maintenance works through: expired uploads, permission jobs and the
batches of cascaded deletions (see :mod:`rastercat.catalog.maintenance`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa

from rastercat.store.records import ACL_COLUMNS
from rastercat.store.sql import tables as t
from rastercat.store.sql.repo import Repo, utcnow

LIVE_UPLOADS = ("UPLOADING", "WAITING", "PENDING", "RUNNING")
"""Upload statuses whose raw files are still needed."""

Expiry = Literal["unused", "stalled", "waiting"]
EXPIRIES: tuple[Expiry, ...] = ("unused", "stalled", "waiting")
LOOKUP_CHUNK = 500
"""Upload uids looked up per statement (bounds its parameters)."""


def _expiry_clause(kind: Expiry, cutoff: datetime, lapsed: float) -> Any:
    c = t.uploads.c
    if kind == "unused":  # the URL expired with no PUT in progress
        return sa.and_(c.status == "UPLOADING", c.lease_until.is_(None), c.created < cutoff)
    if kind == "stalled":  # the PUT holding it stopped receiving
        return sa.and_(c.status == "UPLOADING", c.lease_until < lapsed)
    return sa.and_(c.status == "WAITING", c.created < cutoff)  # a scene missing files


class MaintenanceRows:
    """Maintenance's reads and writes through one :class:`Repo`."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    # uploads ---------------------------------------------------------------------------------
    def live_uploads(self, uids: Sequence[str]) -> set[str]:
        """Which of ``uids`` are uploads still in progress (their raw files are needed)."""
        live: set[str] = set()
        with self.repo.tx() as conn:
            for i in range(0, len(uids), LOOKUP_CHUNK):
                live.update(
                    conn.execute(
                        sa.select(t.uploads.c.uid).where(
                            t.uploads.c.uid.in_(uids[i : i + LOOKUP_CHUNK]),
                            t.uploads.c.status.in_(LIVE_UPLOADS),
                        )
                    ).scalars()
                )
        return live

    def expiring(self, kind: Expiry, cutoff: datetime, lapsed: float) -> list[dict[str, Any]]:
        """Uploads to end as ``kind``: ``unused`` (UPLOADING, no hold, created before
        ``cutoff``), ``stalled`` (held with a lease before ``lapsed``), ``waiting`` (WAITING,
        created before ``cutoff``)."""
        return self.repo.all(t.uploads, _expiry_clause(kind, cutoff, lapsed))

    def expire(
        self, pk: int, kind: Expiry, cutoff: datetime, lapsed: float, values: Mapping[str, Any]
    ) -> bool:
        """Set ``values`` on upload ``pk`` if it is still to end as ``kind`` (a PUT may have taken
        or renewed it meanwhile)."""
        with self.repo.tx() as conn:
            result = conn.execute(
                sa.update(t.uploads)
                .where(t.uploads.c.pk == pk, _expiry_clause(kind, cutoff, lapsed))
                .values(**values)
            )
        return bool(result.rowcount)

    # permissions -----------------------------------------------------------------------------
    def pending_permission_jobs(self, limit: int) -> list[dict[str, Any]]:
        return self.repo.all(
            t.permission_jobs, t.permission_jobs.c.status == "PENDING", limit=limit
        )

    def propagate_permissions(self, job: Mapping[str, Any]) -> None:
        """Give the product's ACL to all its bands and images (nothing if it is gone); the job
        is done."""
        with self.repo.tx() as conn:
            product = self.repo.one(t.products, conn, uid=job["product_uid"])
            if product is not None:
                acl = {k: product[k] for k in ACL_COLUMNS}
                for table in (t.bands, t.images):
                    conn.execute(
                        sa.update(table)
                        .where(table.c.product_uid == job["product_uid"])
                        .values(**acl)
                    )
            self.repo.update(
                t.permission_jobs, job["pk"], {"status": "SUCCESS", "updated": utcnow()}, conn
            )

    def pending_permissions(self, product_uid: str) -> int:
        return self.repo.count(
            t.permission_jobs,
            t.permission_jobs.c.product_uid == product_uid,
            t.permission_jobs.c.status == "PENDING",
        )

    # deletions -------------------------------------------------------------------------------
    def next_deletion(self) -> dict[str, Any] | None:
        """The oldest deletion task still to do."""
        tasks = self.repo.all(
            t.deletion_tasks,
            t.deletion_tasks.c.status.in_(("PENDING", "RUNNING")),
            order_by=[t.deletion_tasks.c.pk],
            limit=1,
        )
        return tasks[0] if tasks else None

    def update_deletion(self, pk: int, values: Mapping[str, Any]) -> None:
        with self.repo.tx() as conn:
            self.repo.update(t.deletion_tasks, pk, dict(values), conn)

    def image_batch(self, product_uid: str, limit: int) -> list[dict[str, Any]]:
        """The product's first ``limit`` images."""
        return self.repo.all(
            t.images, t.images.c.product_uid == product_uid, order_by=[t.images.c.pk], limit=limit
        )

    def delete_images(self, conn: sa.Connection, pks: Sequence[int]) -> int:
        """Remove images (and their index entries); returns how many rows were deleted."""
        for pk in pks:
            self.repo.unindex_image(conn, pk)
        return int(
            conn.execute(sa.delete(t.images).where(t.images.c.pk.in_(list(pks)))).rowcount or 0
        )

    def product_uploads(self, product_uid: str) -> list[dict[str, Any]]:
        return self.repo.all(t.uploads, t.uploads.c.product_uid == product_uid)

    def delete_product_rest(self, conn: sa.Connection, product_uid: str) -> int:
        """Remove a deleted product's bands, uploads and permission jobs; returns how many bands."""
        done = conn.execute(sa.delete(t.bands).where(t.bands.c.product_uid == product_uid))
        conn.execute(sa.delete(t.uploads).where(t.uploads.c.product_uid == product_uid))
        conn.execute(
            sa.delete(t.permission_jobs).where(t.permission_jobs.c.product_uid == product_uid)
        )
        return int(done.rowcount or 0)

    def progress(
        self, conn: sa.Connection, task: Mapping[str, Any], done: int, errors: list[str],
        *, finished: bool,
    ) -> None:  # fmt: skip
        """Count ``done`` more deleted objects and add ``errors`` to the task; when ``finished``,
        SUCCESS (FAILURE with any error)."""
        table = t.deletion_tasks
        current = self.repo.one(table, conn, pk=task["pk"])
        all_errors = [*(current["errors"] if current else task["errors"]), *errors]
        status = "RUNNING"
        if finished:
            status = "FAILURE" if all_errors else "SUCCESS"
        conn.execute(
            sa.update(table)
            .where(table.c.pk == task["pk"])
            .values(
                deleted=table.c.deleted + done, status=status, errors=all_errors, updated=utcnow()
            )
        )


__all__ = ["EXPIRIES", "LIVE_UPLOADS", "Expiry", "MaintenanceRows"]

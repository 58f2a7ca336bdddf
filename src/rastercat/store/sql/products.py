"""Products and what hangs off them in the database: permission jobs and deletion tasks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from rastercat.store.records import DeletionCounts
from rastercat.store.sql import tables as t
from rastercat.store.sql.repo import Repo

UNFINISHED_UPLOADS = ("UPLOADING", "WAITING", "PENDING", "RUNNING")


class Products:
    """Product rows (plain dicts) through one :class:`Repo`, inside the caller's transaction."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def find(
        self, conn: sa.Connection, pid: str, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        """The product of id ``pid``; ``for_update`` locks it until the transaction ends."""
        return self.repo.one(t.products, conn, for_update=for_update, id=pid)

    def find_uid(self, conn: sa.Connection | None, uid: str) -> dict[str, Any] | None:
        """The product of uid ``uid`` (None: in a read transaction of its own)."""
        return self.repo.one(t.products, conn, uid=uid)

    def create(self, conn: sa.Connection, values: Mapping[str, Any]) -> int:
        return self.repo.insert(t.products, dict(values), conn)

    def update(self, conn: sa.Connection, pk: int, values: Mapping[str, Any]) -> None:
        self.repo.update(t.products, pk, dict(values), conn)

    def queue_permission_job(self, conn: sa.Connection, product_uid: str, now: datetime) -> None:
        """Ask for the product's permissions to be given to its bands and images."""
        self.repo.insert(
            t.permission_jobs,
            {"product_uid": product_uid, "status": "PENDING", "created": now, "updated": now},
            conn,
        )

    def holdings(self, conn: sa.Connection, uid: str) -> DeletionCounts:
        """How many bands, images and unfinished uploads the product still has."""
        return DeletionCounts(
            bands=self.repo.count(t.bands, t.bands.c.product_uid == uid, conn=conn),
            images=self.repo.count(t.images, t.images.c.product_uid == uid, conn=conn),
            unfinished_uploads=self.repo.count(
                t.uploads,
                t.uploads.c.product_uid == uid,
                t.uploads.c.status.in_(UNFINISHED_UPLOADS),
                conn=conn,
            ),
        )

    def delete(self, conn: sa.Connection, pk: int) -> None:
        self.repo.delete(t.products, pk, conn)

    def delete_uploads(self, conn: sa.Connection, uid: str) -> None:
        """Forget the upload records of a deleted product (those of an empty product)."""
        conn.execute(sa.delete(t.uploads).where(t.uploads.c.product_uid == uid))

    def free_ids(self, conn: sa.Connection, uid: str, prefix: str) -> None:
        """Give the product's bands and images ids of ``prefix`` + pk (ids are unique: a product
        re-created under the same id can be given the same bands and images at once)."""
        for table in (t.bands, t.images):
            conn.execute(
                sa.update(table)
                .where(table.c.product_uid == uid)
                .values(id=prefix + sa.cast(table.c.pk, sa.String))
            )

    def add_deletion_task(self, conn: sa.Connection, values: Mapping[str, Any]) -> None:
        self.repo.insert(t.deletion_tasks, dict(values), conn)

    def deletion_task(self, task_id: str) -> dict[str, Any] | None:
        return self.repo.one(t.deletion_tasks, id=task_id)


__all__ = ["UNFINISHED_UPLOADS", "Products"]

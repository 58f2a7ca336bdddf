"""Upload rows while their bytes arrive (UPLOADING, held by one request under a lease).

Every change is a conditional update (:meth:`Uploads.update_if`): it happens only while the row
is still as the caller last saw it, so of two requests racing for one upload exactly one wins.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from rastercat.store.sql import tables as t
from rastercat.store.sql.repo import Repo

LOOKUP_CHUNK = 500
"""Upload uids looked up per query by :meth:`Uploads.many`."""


def update_if(conn: sa.Connection, pk: int, values: Mapping[str, Any], **expect: Any) -> bool:
    """Set ``values`` on upload ``pk`` if its columns still equal ``expect`` (None: NULL);
    False when they no longer do (or the row is gone)."""
    c = t.uploads.c
    where = [c.pk == pk]
    where += [c[k].is_(None) if v is None else c[k] == v for k, v in expect.items()]
    result = conn.execute(sa.update(t.uploads).where(*where).values(**values))
    return bool(result.rowcount)


def lock_group(conn: sa.Connection, product_uid: str, group_key: str) -> list[Any]:
    """(pk, upload_id, status) of every file of a multi-file scene, in upload order, locked until
    the transaction ends."""
    return list(
        conn.execute(
            sa.select(t.uploads.c.pk, t.uploads.c.upload_id, t.uploads.c.status)
            .where(t.uploads.c.product_uid == product_uid, t.uploads.c.group_key == group_key)
            .order_by(t.uploads.c.pk)
            .with_for_update()
        ).all()
    )


class Uploads:
    """The ``uploads`` table through one :class:`Repo`."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def find(self, conn: sa.Connection | None, uid: str) -> dict[str, Any] | None:
        """The upload of ``uid`` (None: in a read transaction of its own)."""
        return self.repo.one(t.uploads, conn, uid=uid)

    def find_pk(self, conn: sa.Connection, pk: int) -> dict[str, Any] | None:
        return self.repo.one(t.uploads, conn, pk=pk)

    def create(self, conn: sa.Connection, values: Mapping[str, Any]) -> int:
        return self.repo.insert(t.uploads, dict(values), conn)

    def update_if(
        self, conn: sa.Connection, pk: int, values: Mapping[str, Any], **expect: Any
    ) -> bool:
        """:func:`update_if`."""
        return update_if(conn, pk, values, **expect)

    def hold(self, conn: sa.Connection, pk: int, key: str, values: Mapping[str, Any]) -> bool:
        """Set ``values`` on UPLOADING upload ``pk`` if it is held under ``key`` already, or held
        by no one (no file, no lease: given up after a restart, see ``rastercat.wiring.recover``)."""
        c = t.uploads.c
        result = conn.execute(
            sa.update(t.uploads)
            .where(
                c.pk == pk,
                c.status == "UPLOADING",
                sa.or_(c.file_key == key, sa.and_(c.file_key.is_(None), c.lease_until.is_(None))),
            )
            .values(**values)
        )
        return bool(result.rowcount)

    def direct_waiting(self) -> list[dict[str, Any]]:
        """UPLOADING rows whose key was set when their URL was made (direct uploads) and that no
        PUT through the API holds: their file may have arrived in the bucket."""
        return self.repo.all(
            t.uploads,
            t.uploads.c.status == "UPLOADING",
            t.uploads.c.file_key.is_not(None),
            t.uploads.c.lease_until.is_(None),
        )

    def many(self, uids: Sequence[str]) -> list[dict[str, Any]]:
        """The uploads of ``uids`` that exist (in any order)."""
        rows: list[dict[str, Any]] = []
        for i in range(0, len(uids), LOOKUP_CHUNK):
            rows += self.repo.all(t.uploads, t.uploads.c.uid.in_(uids[i : i + LOOKUP_CHUNK]))
        return rows

    def page(
        self,
        product_uid: str,
        *,
        status: str | None,
        since: Mapping[str, datetime],
        limit: int,
        offset: int,
    ) -> list[dict[str, Any]]:
        """A product's uploads in the order they were asked for: of ``status`` if given, with
        ``created``/``updated`` at or after ``since``'s values."""
        clauses = [t.uploads.c.product_uid == product_uid]
        if status is not None:
            clauses.append(t.uploads.c.status == status)
        clauses += [t.uploads.c[name] >= when for name, when in since.items()]
        return self.repo.all(
            t.uploads, *clauses, order_by=[t.uploads.c.pk], limit=limit, offset=offset
        )

    def latest(
        self, product_uid: str, upload_ids: Collection[str], uid: str
    ) -> dict[str, Any] | None:
        """The product's most recent upload named one of ``upload_ids``, or of uid ``uid``."""
        rows = self.repo.all(
            t.uploads,
            t.uploads.c.product_uid == product_uid,
            sa.or_(t.uploads.c.upload_id.in_(list(upload_ids)), t.uploads.c.uid == uid),
            order_by=[t.uploads.c.pk.desc()],
            limit=1,
        )
        return rows[0] if rows else None


__all__ = ["Uploads", "lock_group", "update_if"]

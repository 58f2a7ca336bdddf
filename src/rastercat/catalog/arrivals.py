"""When an upload's bytes are stored, its job moves on: UPLOADING -> PENDING (or WAITING).

Two ways bytes arrive: through the API's ``PUT /uploads/{token}`` (the API stores them and calls
:func:`advance` itself), or straight into an S3 bucket through a presigned URL, which tells nobody.
For those, :class:`ArrivalCheck` looks at the bucket: for the rows a client polls (upload results),
and in a loop of the processes that run ingest (:class:`rastercat.periodic.Periodic`), one listing per look.

Every transition is a conditional update (``WHERE status = 'UPLOADING'``), so any number of processes
may look at once: exactly one moves a row, and only that one announces the job (``on_pending``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from rastercat.store.objects import ObjectStore
from rastercat.store.ports import Tx
from rastercat.store.sql.repo import Repo, utcnow
from rastercat.store.sql.uploads import Uploads, lock_group, update_if

log = logging.getLogger("rastercat.uploads")

OnPending = Callable[[str], None]


def advance(conn: Tx, row: dict[str, Any], file_key: str, size: int) -> str | None:
    """Record that the file of the UPLOADING upload ``row`` is stored as ``file_key``.

    Returns the new status (PENDING; WAITING for a file of a multi-file scene whose other files have
    not all arrived), or None when the row was no longer UPLOADING (someone else moved it).
    """
    values: dict[str, Any] = {
        "file_key": file_key,
        "file_size": size,
        "updated": utcnow(),
        "status": "PENDING",
        "lease_until": None,  # no longer receiving
    }
    multi = row["params"].get("multi_file")
    if multi:
        # Lock the whole group: two files arriving at once (two API replicas, two watchers) must
        # not both see the other still UPLOADING and both wait forever. The second transaction
        # waits here, then reads the first one's WAITING.
        group = lock_group(conn, row["product_uid"], row["group_key"])
        mine = [g for g in group if g.pk == row["pk"]]
        if not mine or mine[0].status != "UPLOADING":
            return None
        have = {g.upload_id for g in group if g.status == "WAITING"} | {row["upload_id"]}
        if not set(multi["image_files"]) <= have:
            values["status"] = "WAITING"
    # Still this file's upload: a PUT that lost its hold (expired, given back) must not advance
    # the row another PUT may hold now.
    moved = update_if(conn, row["pk"], values, status="UPLOADING", file_key=file_key)
    return str(values["status"]) if moved else None


def _reject(conn: Tx, row: dict[str, Any], why: str, name: str) -> bool:
    values = {
        "status": "FAILURE",
        "failure_type": "exception",
        "exception_name": name,
        "log": (row["log"] + "\n" if row["log"] else "") + f"FAILED: {why}",
        "updated": utcnow(),
    }
    return update_if(conn, row["pk"], values, status="UPLOADING")


class ArrivalCheck:
    """Finds direct uploads (UPLOADING rows whose ``file_key`` was set when their URL was made)
    whose object is in the store, and advances them."""

    def __init__(self, repo: Repo, objects: ObjectStore, max_bytes: int,
                 on_pending: OnPending | None = None) -> None:  # fmt: skip
        self.repo = repo
        self.objects = objects
        self.max_bytes = max_bytes
        self.on_pending = on_pending

    def sweep(self) -> int:
        """Advance every direct upload that has arrived; one listing of ``uploads/`` (not one
        request per waiting row). Returns how many rows moved."""
        rows = Uploads(self.repo).direct_waiting()
        if not rows:
            return 0
        stored = set(self.objects.list("uploads"))
        return self._advance([r for r in rows if r["file_key"] in stored])

    def check(self, rows: Iterable[dict[str, Any]], limit: int = 20) -> int:
        """Advance those of ``rows`` (e.g. the ones a client is polling) whose object has arrived;
        at most ``limit`` lookups, so a poll stays fast."""
        waiting = [
            r
            for r in rows
            if r["status"] == "UPLOADING" and r["file_key"] and r["lease_until"] is None
        ][:limit]
        return self._advance([r for r in waiting if self.objects.exists(r["file_key"])])

    def _advance(self, rows: list[dict[str, Any]]) -> int:
        moved = 0
        for row in rows:
            try:
                size = self.objects.size(row["file_key"])
            except Exception:  # deleted meanwhile (e.g. expired): nothing to advance
                log.debug("upload %s vanished while checked", row["uid"], exc_info=True)
                continue
            with self.repo.tx() as conn:
                if size > self.max_bytes:
                    why = f"the upload is {size} bytes; the limit is {self.max_bytes} bytes"
                    status = "FAILURE" if _reject(conn, row, why, "PayloadTooLarge") else None
                elif size == 0:
                    status = (
                        "FAILURE"
                        if _reject(conn, row, "the upload is empty", "InvalidInput")
                        else None
                    )
                else:
                    status = advance(conn, row, row["file_key"], size)
            if status is None:
                continue
            moved += 1
            if status == "FAILURE":
                self.objects.delete(row["file_key"])
            elif status == "PENDING" and self.on_pending is not None:
                self.on_pending(row["uid"])
        return moved

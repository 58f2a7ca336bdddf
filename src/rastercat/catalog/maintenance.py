"""Background catalog work: cascaded deletions and permission propagation (``set_global_permissions``).

Both are recorded as rows first, so they resume after a restart. A deletion targets a product's
``uid``, never its id: a product re-created under the same id is a different product.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from rastercat.periodic import Periodic
from rastercat.store.external import owned_key
from rastercat.store.objects import ObjectStore
from rastercat.store.sql.repo import Repo, t, utcnow

log = logging.getLogger("rastercat.maintenance")
BATCH = 500
MAX_TASK_ERRORS = 5
LIVE_UPLOADS = ("UPLOADING", "WAITING", "PENDING", "RUNNING")
"""Upload statuses whose raw files are still needed."""


class Maintenance:
    def __init__(self, repo: Repo, objects: ObjectStore, upload_ttl: float = 3600.0,
                 upload_idle: float = 300.0,
                 upload_sweeps: Sequence[Callable[[], object]] = ()) -> None:  # fmt: skip
        self.repo = repo
        self.upload_sweeps = tuple(upload_sweeps)
        """More clean-ups run after the upload expiry (e.g. abandoned resumable uploads' parts)."""
        self.objects = objects
        self.upload_ttl = upload_ttl
        self.upload_idle = upload_idle
        self._next_expiry = 0.0

    def run_once(self) -> bool:
        """Do one batch of pending work; True when something was done."""
        return self._permissions() or self._deletions() or self._expire_uploads()

    def _expire_uploads(self) -> bool:
        import time

        if time.monotonic() >= self._next_expiry:
            self._next_expiry = time.monotonic() + max(1.0, min(30.0, self.upload_ttl / 10))
            for step in (self.expire_uploads, self.sweep_stray_uploads, *self.upload_sweeps):
                try:
                    step()
                except Exception:  # storage or database trouble: the next round tries again
                    name = getattr(step, "__name__", repr(step))
                    log.warning("%s failed; retrying later", name, exc_info=True)
        return False

    def sweep_stray_uploads(self) -> int:
        """Delete raw upload files that no live upload needs; returns how many.

        A presigned S3 URL accepts PUTs until it expires, also after its job has finished and
        removed the file, and a PUT may land just after its product was deleted: such files belong
        to an upload that ended (or no longer exists). Statuses only move forward, so a file whose
        upload is finished when looked up after the listing can never be needed again.
        """
        keys = [k for k in self.objects.list("uploads") if k.count("/") >= 2]
        if not keys:
            return 0
        uids = sorted({k.split("/")[1] for k in keys})
        live: set[str] = set()
        with self.repo.tx() as conn:
            for i in range(0, len(uids), 500):  # bound the statement's parameters
                live.update(
                    conn.execute(
                        sa.select(t.uploads.c.uid).where(
                            t.uploads.c.uid.in_(uids[i : i + 500]),
                            t.uploads.c.status.in_(LIVE_UPLOADS),
                        )
                    ).scalars()
                )
        stray = [k for k in keys if k.split("/")[1] not in live]
        for key in stray:
            self.objects.delete(key)
        if stray:
            log.info("removed %d raw upload file(s) that no live upload needs", len(stray))
        return len(stray)

    def expire_uploads(self) -> int:
        """End as FAILURE (removing their stored files), instead of waiting forever: uploads whose
        URL expired with no PUT in progress, uploads whose PUT stopped receiving data (its hold
        lapsed: no data for ``upload_idle`` seconds, or the process died mid-transfer), and
        multi-file scenes still missing files after the URL lifetime. A PUT that keeps receiving
        is never expired, however long it takes. Returns how many ended."""
        import time
        from datetime import timedelta

        cutoff = utcnow() - timedelta(seconds=self.upload_ttl + 60)
        # A grace beyond the lease: the PUT itself gives the upload back when data stops.
        lapsed = time.time() - min(60.0, self.upload_idle)
        unused = sa.and_(
            t.uploads.c.status == "UPLOADING",
            t.uploads.c.lease_until.is_(None),
            t.uploads.c.created < cutoff,
        )
        stalled = sa.and_(t.uploads.c.status == "UPLOADING", t.uploads.c.lease_until < lapsed)
        waiting = sa.and_(t.uploads.c.status == "WAITING", t.uploads.c.created < cutoff)
        why = {
            "unused": "the upload URL expired before any data arrived",
            "stalled": f"no data arrived for {self.upload_idle:g} s while the upload was "
            "being received: the transfer stalled",
            "waiting": "the other files of this multi-file scene never arrived",
        }
        ended = 0
        for kind, clause in (("unused", unused), ("stalled", stalled), ("waiting", waiting)):
            for row in self.repo.all(t.uploads, clause):
                # The same condition again: a PUT may have taken or renewed the row meanwhile.
                with self.repo.tx() as conn:
                    result = conn.execute(
                        sa.update(t.uploads)
                        .where(t.uploads.c.pk == row["pk"], clause)
                        .values(
                            status="FAILURE",
                            failure_type="timeout",
                            exception_name="UploadExpired",
                            lease_until=None,
                            log=(row["log"] + "\n" if row["log"] else "") + f"FAILED: {why[kind]}",
                            updated=utcnow(),
                        )  # fmt: skip
                    )
                if result.rowcount:
                    ended += 1
                    if row["file_key"]:
                        self.objects.delete(row["file_key"])
        return ended

    def _permissions(self) -> bool:
        jobs = self.repo.all(t.permission_jobs, t.permission_jobs.c.status == "PENDING", limit=10)
        for job in jobs:
            with self.repo.tx() as conn:
                product = self.repo.one(t.products, conn, uid=job["product_uid"])
                if product is not None:
                    acl = {k: product[k] for k in ("owners", "readers", "writers")}
                    for table in (t.bands, t.images):
                        conn.execute(
                            sa.update(table)
                            .where(table.c.product_uid == job["product_uid"])
                            .values(**acl)
                        )
                self.repo.update(
                    t.permission_jobs, job["pk"], {"status": "SUCCESS", "updated": utcnow()}, conn
                )
        return bool(jobs)

    def pending_permissions(self, product_uid: str) -> int:
        return self.repo.count(
            t.permission_jobs,
            t.permission_jobs.c.product_uid == product_uid,
            t.permission_jobs.c.status == "PENDING",
        )

    def _deletions(self) -> bool:
        tasks = self.repo.all(
            t.deletion_tasks,
            t.deletion_tasks.c.status.in_(("PENDING", "RUNNING")),
            order_by=[t.deletion_tasks.c.pk],
            limit=1,
        )
        if not tasks:
            return False
        task = tasks[0]
        try:
            self._delete_batch(task)
        except Exception as exc:
            # A failing database is retried a few times (the next tick), then the task is given up
            # and reported; the product is already invisible either way.
            log.exception("deletion task %s failed", task["id"])
            errors = [*task["errors"], f"{type(exc).__name__}: {exc}"]
            with self.repo.tx() as conn:
                self.repo.update(
                    t.deletion_tasks,
                    task["pk"],
                    {
                        "status": "FAILURE" if len(errors) >= MAX_TASK_ERRORS else "RUNNING",
                        "errors": errors,
                        "updated": utcnow(),
                    },
                    conn,
                )
            return False
        return True

    def _delete_objects(self, keys: list[str], errors: list[str]) -> None:
        for key in keys:
            try:
                self.objects.delete(key)
            except Exception as exc:  # any store failure: report it, keep deleting the rest
                errors.append(f"could not delete stored file {key!r}: {exc}")

    def _delete_batch(self, task: dict[str, Any]) -> None:
        """One step of a cascaded deletion: a batch of images, or, once none are left, the bands,
        the uploads and every remaining file of the product.

        Files go before the rows that name them: a crash in between leaves rows of a product that
        no longer exists (invisible, and removed when the task resumes), never an orphan file.
        Counts are updated from the rows actually deleted, so a batch done twice counts once.
        """
        uid = task["product_uid"]
        errors: list[str] = []
        images = self.repo.all(
            t.images, t.images.c.product_uid == uid, order_by=[t.images.c.pk], limit=BATCH
        )
        if images:
            # Files registered in place are not rastercat's to delete (owned_key: None).
            owned = [owned_key(i["storage_key"]) for i in images]
            self._delete_objects([k for k in owned if k], errors)
            pks = [i["pk"] for i in images]
            with self.repo.tx() as conn:
                for pk in pks:
                    self.repo.unindex_image(conn, pk)
                done = conn.execute(sa.delete(t.images).where(t.images.c.pk.in_(pks))).rowcount
                self._progress(conn, task, done, errors, finished=False)
            return
        uploads = self.repo.all(t.uploads, t.uploads.c.product_uid == uid)
        keys = [u["file_key"] for u in uploads if u["file_key"]]
        keys += list(self.objects.list(f"products/{uid}"))
        for u in uploads:
            keys += list(self.objects.list(f"uploads/{u['uid']}"))
        self._delete_objects(list(dict.fromkeys(keys)), errors)
        with self.repo.tx() as conn:
            done = conn.execute(sa.delete(t.bands).where(t.bands.c.product_uid == uid)).rowcount
            conn.execute(sa.delete(t.uploads).where(t.uploads.c.product_uid == uid))
            conn.execute(sa.delete(t.permission_jobs).where(t.permission_jobs.c.product_uid == uid))
            self._progress(conn, task, done, errors, finished=True)

    def _progress(
        self,
        conn: sa.Connection,
        task: dict[str, Any],
        done: int,
        errors: list[str],
        *,
        finished: bool,
    ) -> None:
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


class MaintenanceThread(Periodic):
    """Runs the maintenance at once, again while it finds work, else every ``interval`` seconds
    or when woken."""

    def __init__(self, maintenance: Maintenance, interval: float = 0.2) -> None:
        self.maintenance = maintenance
        super().__init__(
            lambda: bool(maintenance.run_once()),
            interval,
            "rastercat-maintenance",
            immediately=True,
            failure="maintenance failed",
            level=logging.ERROR,
            logger=log,
        )

    def stop(self, timeout: float = 10.0) -> None:
        super().stop(timeout)

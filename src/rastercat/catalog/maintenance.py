"""Background catalog work: cascaded deletions and permission propagation (``set_global_permissions``).

Both are recorded as rows first, so they resume after a restart. A deletion targets a product's
``uid``, never its id: a product re-created under the same id is a different product.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from rastercat.periodic import Periodic
from rastercat.store.external import owned_key
from rastercat.store.objects import ObjectStore
from rastercat.store.sql.maintenance import EXPIRIES, MaintenanceRows
from rastercat.store.sql.repo import Repo, utcnow

log = logging.getLogger("rastercat.maintenance")
BATCH = 500
MAX_TASK_ERRORS = 5


class Maintenance:
    def __init__(self, repo: Repo, objects: ObjectStore, upload_ttl: float = 3600.0,
                 upload_idle: float = 300.0,
                 upload_sweeps: Sequence[Callable[[], object]] = ()) -> None:  # fmt: skip
        self.repo = repo
        self.rows = MaintenanceRows(repo)
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
        live = self.rows.live_uploads(uids)
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
        why = {
            "unused": "the upload URL expired before any data arrived",
            "stalled": f"no data arrived for {self.upload_idle:g} s while the upload was "
            "being received: the transfer stalled",
            "waiting": "the other files of this multi-file scene never arrived",
        }
        ended = 0
        for kind in EXPIRIES:
            for row in self.rows.expiring(kind, cutoff, lapsed):
                # The same condition again: a PUT may have taken or renewed the row meanwhile.
                values = {
                    "status": "FAILURE",
                    "failure_type": "timeout",
                    "exception_name": "UploadExpired",
                    "lease_until": None,
                    "log": (row["log"] + "\n" if row["log"] else "") + f"FAILED: {why[kind]}",
                    "updated": utcnow(),
                }
                if self.rows.expire(row["pk"], kind, cutoff, lapsed, values):
                    ended += 1
                    if row["file_key"]:
                        self.objects.delete(row["file_key"])
        return ended

    def _permissions(self) -> bool:
        jobs = self.rows.pending_permission_jobs(limit=10)
        for job in jobs:
            self.rows.propagate_permissions(job)
        return bool(jobs)

    def pending_permissions(self, product_uid: str) -> int:
        return self.rows.pending_permissions(product_uid)

    def _deletions(self) -> bool:
        task = self.rows.next_deletion()
        if task is None:
            return False
        try:
            self._delete_batch(task)
        except Exception as exc:
            # A failing database is retried a few times (the next tick), then the task is given up
            # and reported; the product is already invisible either way.
            log.exception("deletion task %s failed", task["id"])
            errors = [*task["errors"], f"{type(exc).__name__}: {exc}"]
            self.rows.update_deletion(
                task["pk"],
                {
                    "status": "FAILURE" if len(errors) >= MAX_TASK_ERRORS else "RUNNING",
                    "errors": errors,
                    "updated": utcnow(),
                },
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
        images = self.rows.image_batch(uid, BATCH)
        if images:
            # Files registered in place are not rastercat's to delete (owned_key: None).
            owned = [owned_key(i["storage_key"]) for i in images]
            self._delete_objects([k for k in owned if k], errors)
            pks = [i["pk"] for i in images]
            with self.repo.tx() as conn:
                done = self.rows.delete_images(conn, pks)
                self.rows.progress(conn, task, done, errors, finished=False)
            return
        uploads = self.rows.product_uploads(uid)
        keys = [u["file_key"] for u in uploads if u["file_key"]]
        keys += list(self.objects.list(f"products/{uid}"))
        for u in uploads:
            keys += list(self.objects.list(f"uploads/{u['uid']}"))
        self._delete_objects(list(dict.fromkeys(keys)), errors)
        with self.repo.tx() as conn:
            done = self.rows.delete_product_rest(conn, uid)
            self.rows.progress(conn, task, done, errors, finished=True)


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

"""Background catalog work: cascaded deletions and permission propagation (``set_global_permissions``).

Both are recorded as rows first, so they resume after a restart. A deletion targets a product's
``uid``, never its id: a product re-created under the same id is a different product.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa

from rastercat.store.objects import ObjectStore
from rastercat.store.sql.repo import Repo, t, utcnow

log = logging.getLogger("rastercat.maintenance")
BATCH = 500


class Maintenance:
    def __init__(self, repo: Repo, objects: ObjectStore) -> None:
        self.repo = repo
        self.objects = objects

    def run_once(self) -> bool:
        """Do one batch of pending work; True when something was done."""
        return self._permissions() or self._deletions()

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
            t.deletion_tasks, t.deletion_tasks.c.status.in_(("PENDING", "RUNNING")), limit=1
        )
        if not tasks:
            return False
        task = tasks[0]
        try:
            self._delete_batch(task)
        except Exception as exc:
            log.exception("deletion task %s failed", task["id"])
            with self.repo.tx() as conn:
                self.repo.update(
                    t.deletion_tasks,
                    task["pk"],
                    {
                        "status": "FAILURE",
                        "errors": [*task["errors"], str(exc)],
                        "updated": utcnow(),
                    },
                    conn,
                )
        return True

    def _delete_batch(self, task: dict[str, Any]) -> None:
        uid = task["product_uid"]
        keys: list[str] = []
        with self.repo.tx() as conn:
            images = self.repo.all(t.images, t.images.c.product_uid == uid, limit=BATCH, conn=conn)
            done = len(images)
            for img in images:
                self.repo.unindex_image(conn, img["pk"])
                if img["storage_key"]:
                    keys.append(img["storage_key"])
            if images:
                conn.execute(
                    sa.delete(t.images).where(t.images.c.pk.in_([i["pk"] for i in images]))
                )
            else:
                bands = self.repo.all(t.bands, t.bands.c.product_uid == uid, conn=conn)
                done = len(bands)
                conn.execute(sa.delete(t.bands).where(t.bands.c.product_uid == uid))
                uploads = self.repo.all(t.uploads, t.uploads.c.product_uid == uid, conn=conn)
                keys.extend(u["file_key"] for u in uploads if u["file_key"])
                keys.extend(f"products/{uid}/{u['uid']}.tif" for u in uploads)
                conn.execute(sa.delete(t.uploads).where(t.uploads.c.product_uid == uid))
                conn.execute(
                    sa.delete(t.permission_jobs).where(t.permission_jobs.c.product_uid == uid)
                )
            finished = not images
            self.repo.update(
                t.deletion_tasks,
                task["pk"],
                {
                    "status": "SUCCESS" if finished else "RUNNING",
                    "deleted": task["deleted"] + done,
                    "updated": utcnow(),
                },
                conn,
            )
        # Files go after the rows are gone: a crash here leaves an orphan file, which the
        # start-up sweep removes, never a row pointing at a missing file.
        for key in keys:
            self.objects.delete(key)


class MaintenanceThread:
    def __init__(self, maintenance: Maintenance, interval: float = 0.2) -> None:
        self.maintenance = maintenance
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name="rastercat-maintenance", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                busy = self.maintenance.run_once()
            except Exception:
                log.exception("maintenance failed")
                busy = False
            if not busy:
                self._wake.wait(self.interval)
                self._wake.clear()

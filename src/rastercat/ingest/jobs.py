"""The job table side of ingest: claim a job, run the pipeline, finalize the image (record last).

The job row in the database is the truth: a job is claimed with a lease, renewed by a heartbeat
while its attempt runs (:mod:`rastercat.ingest.lease`), and finalizing is idempotent (a job
delivered twice yields one image). Each attempt works in a folder of its own and writes a COG key
of its own, so an attempt that lost its job never touches the files of the one that took it over;
a job claimed more than ``ingest.max_attempts`` times ends FAILURE.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rastercat import __version__
from rastercat.catalog.upload_access import recheck, upload_acl
from rastercat.config import Settings
from rastercat.errors import Conflict, Forbidden, IngestError, NotFound
from rastercat.ingest.isolated import PipelinePool
from rastercat.ingest.lease import Heartbeat
from rastercat.ingest.verify import ClaimedChecksum
from rastercat.store.external import owned_key
from rastercat.store.objects import ObjectStore
from rastercat.store.ports import (
    BandRepository,
    ImageRepository,
    JobRepository,
    ProductRepository,
)
from rastercat.store.sql.bands import Bands
from rastercat.store.sql.images import Images, image_columns
from rastercat.store.sql.jobs import Jobs
from rastercat.store.sql.products import Products
from rastercat.store.sql.repo import Repo

log = logging.getLogger("rastercat.ingest")

INGEST_VERSION = f"rastercat-ingest-{__version__}"


class JobRunner:
    def __init__(
        self,
        repo: Repo,
        objects: ObjectStore,
        settings: Settings,
        *,
        pool: PipelinePool | None = None,
        lease: float | None = None,
    ) -> None:
        self.repo = repo
        self.jobs: JobRepository = Jobs(repo)
        self.products: ProductRepository = Products(repo)
        self.bands: BandRepository = Bands(repo)
        self.images: ImageRepository = Images(repo)
        self.objects = objects
        self.settings = settings
        self.work_root = settings.data_dir / "work"
        self.pool = pool
        """Where conversions run; None runs them in this process (Celery workers are processes)."""
        self.lease = lease if lease is not None else settings.ingest.lease_seconds
        """Seconds a claimed job stays owned without a heartbeat."""

    # claiming ------------------------------------------------------------------------------------
    def requeue_running(self) -> int:
        """At start-up of the embedded server no other worker exists: RUNNING jobs were interrupted."""
        return self.jobs.requeue_running()

    def claim(self, uid: str | None = None) -> dict[str, Any] | None:
        return self.jobs.claim(uid, time.time(), self.lease)

    # running -------------------------------------------------------------------------------------
    def work_dir(self, job: dict[str, Any]) -> Path:
        """The folder of one attempt: a sibling, never a child, of other attempts' folders, so
        cleaning one up never races with creating another."""
        return self.work_root / f"{job['uid']}.{job['attempts']}"

    def run(self, job: dict[str, Any]) -> str:
        """Process one claimed job to SUCCESS or FAILURE (or back to PENDING to retry); SUPERSEDED
        when another delivery of the job took it over meanwhile (then nothing is changed)."""
        if job["attempts"] > self.settings.ingest.max_attempts:
            return self._give_up(job)
        with Heartbeat(self.repo, job["uid"], job["attempts"], self.lease):
            return self._run(job)

    def _run(self, job: dict[str, Any]) -> str:
        lines: list[str] = []

        def note(msg: str) -> None:
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            lines.append(f"{stamp} {msg}")

        started = time.monotonic()
        work_dir = self.work_dir(job)
        # One key per attempt: a runner whose lease was taken over never touches the file of
        # the attempt that won.
        cog_key = f"products/{job['product_uid']}/{job['uid']}-{job['attempts']}.tif"
        note(
            f"attempt {job['attempts']}: processing {job['upload_id']} into image {job['image_key']!r}"
        )
        if job["params"].get("registered_from"):  # a registered file that is not a usable COG
            note(job["params"]["registered_note"])
        try:
            result = self._process(job, work_dir, note)
            note(f"processed in {time.monotonic() - started:.2f} s")
            clock = time.monotonic()
            self.objects.put_file(result["cog_path"], cog_key, durable=True)
            note(f"stored in {time.monotonic() - clock:.2f} s (on disk before the record)")
            replaced = self._finalize(job, result, cog_key, note, time.monotonic() - started, lines)
            if replaced and replaced != cog_key:
                self.objects.delete(replaced)
            # What earlier, interrupted attempts of this job may have left in storage.
            for attempt in range(1, job["attempts"]):
                self.objects.delete(f"products/{job['product_uid']}/{job['uid']}-{attempt}.tif")
                shutil.rmtree(self.work_dir({**job, "attempts": attempt}), ignore_errors=True)
            self._drop_raw(job)
            return "SUCCESS"
        except IngestError as exc:
            note(f"FAILED: {exc.message}")
            owned = self._fail(
                job, exc.failure_type, type(exc).__name__, lines, time.monotonic() - started
            )
            self.objects.delete(cog_key)
            if not owned:  # superseded: the raw files belong to the attempt that owns the job
                return "SUPERSEDED"
            self._drop_raw(job)
            return "FAILURE"
        except Exception as exc:
            log.exception("ingest of %s failed unexpectedly", job["uid"])
            note(f"internal error: {type(exc).__name__}: {exc}")
            self.objects.delete(cog_key)
            if job["attempts"] < self.settings.ingest.max_attempts:
                return "PENDING" if self._retry(job, lines) else "SUPERSEDED"
            lines.append(traceback.format_exc(limit=5))
            if not self._fail(
                job, "internal", type(exc).__name__, lines, time.monotonic() - started
            ):
                return "SUPERSEDED"
            self._drop_raw(job)
            return "FAILURE"
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)

    def _give_up(self, job: dict[str, Any]) -> str:
        """FAILURE for a job claimed once too often: every earlier attempt ended without a result
        (its worker died, was stopped, or hung past its lease), so running it again is futile."""
        limit = self.settings.ingest.max_attempts
        stamp = datetime.now(UTC).strftime("%H:%M:%S")
        lines = [job["log"]] if job.get("log") else []
        lines.append(
            f"{stamp} FAILED: gave up after {limit} attempt(s) (ingest.max_attempts) that did not "
            "finish: their worker died, was stopped, or stopped renewing its lease (a file that "
            "crashes or exhausts the conversion does this)"
        )
        log.error("ingest job %s: gave up after %d attempt(s)", job["uid"], limit)
        if not self._fail(job, "attempts", "TooManyAttempts", lines, 0.0):
            return "SUPERSEDED"
        for attempt in range(1, job["attempts"] + 1):  # what the dead attempts left
            self.objects.delete(f"products/{job['product_uid']}/{job['uid']}-{attempt}.tif")
            shutil.rmtree(self.work_dir({**job, "attempts": attempt}), ignore_errors=True)
        self._drop_raw(job)
        return "FAILURE"

    def _group(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        if not job["group_key"]:
            return [job]
        rows = self.jobs.group(job["product_uid"], job["group_key"])
        by_name = {r["upload_id"]: r for r in rows}
        by_name[job["upload_id"]] = job
        files = job["params"]["multi_file"]["image_files"]
        missing = [f for f in files if f not in by_name]
        if missing:
            raise IngestError(f"multi-file scene is missing file(s): {', '.join(missing)}")
        return [by_name[f] for f in files]

    def _process(
        self, job: dict[str, Any], work_dir: Path, note: Callable[[str], None]
    ) -> dict[str, Any]:
        from rastercat.ingest.inplace import band_specs
        from rastercat.ingest.pipeline import process
        from rastercat.ingest.types import IngestRequest

        product = self.products.find_uid(None, job["product_uid"])
        if product is None:
            raise IngestError("the product was deleted before this upload was processed")
        bands = self.bands.of_product(None, job["product_uid"])
        if not bands:
            raise IngestError(f"product {product['id']!r} has no bands: add bands before uploading")
        specs = band_specs(bands)
        members = self._group(job)
        work_dir.mkdir(parents=True, exist_ok=True)
        files = tuple(self.objects.fetch(m["file_key"], work_dir) for m in members)
        params = job["params"]
        request = IngestRequest(
            upload_type=params["upload_type"],
            files=files,
            bands=specs,
            geotrans=tuple(params["geotrans"]) if params.get("geotrans") else None,
            crs=params.get("crs"),
            overviews=tuple(params["overviews"]) if params.get("overviews") else None,
            overview_resampler=params.get("overview_resampler"),
            compression=self.settings.ingest.compression,
            compression_level=self.settings.ingest.compression_level,
            hash_inputs=False,  # the image records the md5 of its stored COG
        )
        check = ClaimedChecksum.start(params, files, note)
        try:
            if self.pool is not None:
                res = self.pool.run(request, work_dir, self.settings.limits, note)
            else:
                note(f"converting in process {os.getpid()} (niceness {os.nice(0)})")
                res = process(request, work_dir, self.settings.limits, log=note)
        except BaseException:
            if check is not None:  # the conversion's error is the one to report
                check.cancel()
            raise
        if check is not None:
            check.verify()
        return {
            "cog_path": res.cog_path,
            "band_names": list(res.band_names),
            "attributes": dict(res.attributes),
            "product": product,
            "members": members,
        }

    def _finalize(self, job: dict[str, Any], result: dict[str, Any], cog_key: str,
                  note: Callable[[str], None], runtime: float, lines: list[str]) -> str | None:  # fmt: skip
        inferred = result["attributes"]
        product = result["product"]
        user = dict(job["params"].get("metadata") or {})
        now = datetime.now(UTC)
        md5 = inferred.get("cog_md5") or job["uid"]
        platform = {
            "key": job["image_key"],
            "product": product["id"],
            "proj4": inferred.get("proj4"),
            "wkt": inferred.get("wkt"),
            "geotrans": inferred.get("geotrans"),
            "geometry": inferred.get("geometry"),
            "raster_size": inferred.get("raster_size"),
            "descartes_version": INGEST_VERSION,
            "bucket": f"rastercat-{product['namespace']}-products",
            "directory": f"{product['id']}/",
            "processed": now.isoformat(),
            "files": [f"{md5}.tif"],
            "file_sizes": [inferred.get("cog_size")],
            "file_md5s": [md5],
            "identifier": f"{product['id']}/{job['upload_id']}",
            "statistics": inferred.get("statistics"),  # per band, from ingest/stats.py
        }
        if inferred.get("cs_code"):
            platform["cs_code"] = inferred["cs_code"]
        if inferred.get("bits_per_pixel") is not None:
            platform["bits_per_pixel"] = inferred["bits_per_pixel"]
        with self.repo.tx() as conn:
            current = self.jobs.find(conn, job["uid"])
            if current is None:
                raise IngestError("this upload was cancelled (its product was deleted)")
            if current["status"] != "RUNNING" or current["attempts"] != job["attempts"]:
                raise IngestError("this attempt was superseded by another delivery of the job")
            # Check again inside the transaction: permissions may have changed while processing
            # (the uploader lost write access, or an image they may not change took the key),
            # and a new image inherits the product's permissions as they are now. The image is
            # locked: a concurrent change_image must not be lost.
            try:
                product, existing = recheck(conn, self.repo, current, lock=True)
                for member in result["members"]:  # the other files' uploaders, if others
                    if member["owner_pk"] != current["owner_pk"]:
                        recheck(conn, self.repo, member)
            except (NotFound, Forbidden, Conflict) as exc:
                raise IngestError(
                    f"the image was not written: {exc.message} (access is checked again when "
                    "the image is written)"
                ) from None
            acl = upload_acl(current)
            base = dict(existing["attrs"]) if existing else {}
            for stale in ("cs_code", "bits_per_pixel"):  # facts of the replaced file only
                base.pop(stale, None)
            platform["acquired"] = self._acquired(job, user, inferred, base, note)
            attrs = {k: v for k, v in {**base, **user, **platform}.items() if v is not None}
            columns = image_columns(attrs)
            columns.update(storage_key=cog_key, band_names=result["band_names"], modified=now)
            if existing:
                # A replaced image keeps its own permissions, except what the upload gave (as
                # change_image does); a new one inherits the product's (as add_image does).
                self.images.replace(conn, existing["pk"], {**columns, **acl})
                note(f"replaced the pixels of image {existing['id']!r}")
            else:
                self.images.create(conn, product, job["image_key"], columns, acl, now)
            note(f"SUCCESS: image {product['id']}:{job['image_key']} is ready")
            member_pks = [m["pk"] for m in result["members"]]
            self.jobs.succeed(conn, member_pks, "\n".join(lines), runtime)
            return owned_key(existing["storage_key"]) if existing else None

    @staticmethod
    def _acquired(job: dict[str, Any], user: dict[str, Any], inferred: dict[str, Any],
                  existing: dict[str, Any], note: Callable[[str], None]) -> str:  # fmt: skip
        """The upload's own value, else the file's TIFF date, else the replaced image's (set by
        the user earlier), else the upload time; the log says which."""
        if user.get("acquired"):
            note(f"acquired {user['acquired']} as given with the upload")
            return str(user["acquired"])
        if inferred.get("acquired"):
            return str(inferred["acquired"])  # the pipeline logged the tag it came from
        if existing.get("acquired"):
            note(f"acquired {existing['acquired']} kept from the image this upload replaces")
            return str(existing["acquired"])
        created = job["created"]
        created = created if created.tzinfo else created.replace(tzinfo=UTC)
        upload_time = created.astimezone(UTC).isoformat()
        note(f"acquired {upload_time}: no acquisition date was given and the file has none, so "
             "the upload time is used; set 'acquired' with change_image")  # fmt: skip
        return upload_time

    def _fail(
        self, job: dict[str, Any], failure_type: str, name: str, lines: list[str], runtime: float
    ) -> bool:
        """Record FAILURE while this attempt still owns the job; False when it no longer does."""
        return self.jobs.fail(job, failure_type, name, "\n".join(lines), runtime)

    def _retry(self, job: dict[str, Any], lines: list[str]) -> bool:
        return self.jobs.retry(job, "\n".join(lines))

    def _drop_raw(self, job: dict[str, Any]) -> None:
        for member in self._members_for_cleanup(job):
            if member.get("file_key"):
                self.objects.delete(member["file_key"])

    def _members_for_cleanup(self, job: dict[str, Any]) -> list[dict[str, Any]]:
        if not job["group_key"]:
            return [job]
        return self.jobs.group(
            job["product_uid"], job["group_key"], ("SUCCESS", "FAILURE"), ordered=False
        )

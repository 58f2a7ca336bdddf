"""Register existing files as images, in place: nothing is copied when the file is a usable COG.

Where from is an administrator's decision: an ``s3://`` object in a bucket listed in
``RASTERCAT_REGISTER__BUCKETS``, or a local file whose real path (symlinks and ``..`` resolved) lies
under a folder of ``RASTERCAT_REGISTER__ROOTS``; anything else is a 403 naming the setting.

Each file is checked like an upload (:func:`~rastercat.ingest.inplace.inspect_existing`), so a file
that an upload would refuse is refused here with the same message (400). Then, synchronously:

- a valid COG whose bands are the product's is recorded as it is, its storage location pointing at
  the original (``external:`` keys, :mod:`rastercat.store.external`), through the bulk path (one
  transaction for every such file of the request). Its checksum, footprint and statistics were
  computed while checking it, so there is nothing left for a job to do, and the image is
  searchable and readable when the request returns;
- anything else is copied into the store and converted by an ordinary ingest job (asynchronous,
  like an upload: upload results show it, and its log says it was converted and why).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from rastercat import __version__
from rastercat.catalog.bulk import BulkImages
from rastercat.catalog.principal import Principal
from rastercat.catalog.service import CatalogService
from rastercat.config import RegisterSettings
from rastercat.errors import Forbidden, InvalidInput, PayloadTooLarge
from rastercat.store.external import download_s3, external_key
from rastercat.store.objects import ObjectStore
from rastercat.store.records import NewImage
from rastercat.store.sql.repo import utcnow
from rastercat.store.sql.uploads import Uploads

ROOTS = "RASTERCAT_REGISTER__ROOTS"
BUCKETS = "RASTERCAT_REGISTER__BUCKETS"
INSPECT_THREADS = 4
"""Files inspected at once (GDAL and hashing release the GIL; small files are latency-bound)."""
REGISTER_VERSION = f"rastercat-register-{__version__}"


@dataclass(frozen=True)
class Location:
    """An allowed file: ``href`` as recorded (a real absolute path, or ``s3://bucket/key``)."""

    href: str
    path: Path | None = None
    bucket: str | None = None
    key: str | None = None

    @property
    def name(self) -> str:
        return PurePosixPath(self.key or str(self.path)).name


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_location(href: str, allowed: RegisterSettings) -> Location:
    """The location ``href`` names, if an administrator allowed it; Forbidden naming the setting
    otherwise (checked before the file's existence, which is not revealed outside the roots)."""
    if not isinstance(href, str) or not href.strip():
        raise InvalidInput("'href' must be a path or an s3:// URL", field="href")
    if any(ord(c) < 32 or ord(c) == 127 for c in href):
        # A NUL would end the name GDAL opens early: another object than the one checked here.
        raise InvalidInput("'href' contains control characters", field="href")
    if href.startswith("s3://"):
        bucket, _, key = href.removeprefix("s3://").partition("/")
        if bucket not in allowed.buckets:
            raise Forbidden(
                f"bucket {bucket!r} is not one that files may be registered from ({BUCKETS})",
                field="href",
            )
        if not key or any(p in ("", ".", "..") for p in key.split("/")):
            raise InvalidInput(f"{href!r} does not name an object", field="href")
        return Location(href=f"s3://{bucket}/{key}", bucket=bucket, key=key)
    if "://" in href or not os.path.isabs(href):
        raise Forbidden(
            f"{href!r} is neither an absolute path under a folder of {ROOTS} nor an s3:// URL "
            f"in a bucket of {BUCKETS}",
            field="href",
        )
    real = os.path.realpath(href)
    if not any(_inside(real, os.path.realpath(root)) for root in allowed.roots):
        raise Forbidden(
            f"{href!r} is not under a folder that files may be registered from ({ROOTS})",
            field="href",
        )
    if not os.path.isfile(real):
        raise InvalidInput(f"{href!r} is not a file", field="href")
    return Location(href=real, path=Path(real))


def inferred_attributes(
    loc: Location, attrs: dict[str, Any], user_acquired: bool
) -> dict[str, Any]:
    """What the image records about a file kept in place (cf. the ingest job's own)."""
    now = datetime.now(UTC).isoformat()
    out = {
        k: attrs[k]
        for k in (
            "proj4",
            "wkt",
            "geotrans",
            "geometry",
            "raster_size",
            "cs_code",
            "bits_per_pixel",
            "statistics",
        )  # fmt: skip
        if attrs.get(k) is not None
    }
    out.update(
        descartes_version=REGISTER_VERSION,
        processed=now,
        files=[loc.href],
        file_sizes=[attrs["cog_size"]],
        file_md5s=[attrs["cog_md5"]],
        identifier=loc.href,
    )
    if not user_acquired:
        out["acquired"] = attrs.get("acquired") or now
    return out


class Registrar:
    """Registers files into a product: in place when they are usable COGs, else as ingest jobs."""

    def __init__(
        self,
        catalog: CatalogService,
        objects: ObjectStore,
        work_dir: Path,
        on_pending: Callable[[str], None] | None = None,
    ) -> None:
        self.catalog = catalog
        self.repo = catalog.repo
        self.settings = catalog.settings
        self.objects = objects
        self.work_dir = work_dir
        self.on_pending = on_pending

    def register(self, p: Principal, pid: str, items: Sequence[Any]) -> list[dict[str, Any]]:
        """Register each ``{"href": ..., "id": ..., **attributes}``; all are checked before any
        is recorded. Returns one result per item, in order."""
        from rastercat.ingest.inplace import band_specs

        if not items or len(items) > self.settings.bulk.max_records:
            raise InvalidInput(
                f"give 1 to {self.settings.bulk.max_records} files to register", field="data"
            )
        with self.repo.tx() as conn:
            product = self.catalog.product_for(conn, p, pid, "write")
            bands = self.catalog.bands.of_product(conn, product["uid"])
        planned = [self._plan(pid, item) for item in items]
        keys = [new.key for _, new in planned]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise InvalidInput(f"image id {dup!r} is given to several files", field="id")
        bulk = BulkImages(self.catalog)
        with self.repo.tx() as conn:
            bulk.check_new(conn, product, [new for _, new in planned])
        specs = band_specs(bands)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.work_dir, prefix="register-") as tmp:
            files = [self._local_copy(loc, Path(tmp), i) for i, (loc, _) in enumerate(planned)]
            with ThreadPoolExecutor(INSPECT_THREADS) as pool:
                verdicts = list(pool.map(lambda f: self._inspect(f, specs), files))
            in_place = [
                replace(
                    new,
                    inferred=inferred_attributes(loc, v.attributes, "acquired" in new.attrs),
                    storage={
                        "storage_key": external_key(loc.href),
                        "band_names": list(v.band_names),
                    },
                )
                for (loc, new), v in zip(planned, verdicts, strict=True)
                if v.in_place
            ]
            if in_place:
                bulk.add_prepared(p, pid, in_place)
            results = []
            for (loc, new), v, f in zip(planned, verdicts, files, strict=True):
                result = {"href": loc.href, "id": f"{pid}:{new.key}", "in_place": v.in_place}
                if v.in_place:
                    result.update(status="SUCCESS", log=list(v.log))
                else:
                    uid = self._convert(p, product, loc, f, new, v.reason)
                    result.update(status="PENDING", upload_id=loc.name, upload_uid=uid)
                results.append(result)
        return results

    def _plan(self, pid: str, item: Any) -> tuple[Location, NewImage]:
        if not isinstance(item, dict):
            raise InvalidInput("each file to register must be an object with 'href'", field="data")
        item = dict(item)
        loc = resolve_location(item.pop("href", None), self.settings.registration)
        item.setdefault("id", PurePosixPath(loc.name).stem)
        new = self.catalog.prepare_image(pid, item)
        if new.acl:
            raise InvalidInput(
                "registered images take the product's permissions; change them afterwards",
                field=next(iter(new.acl)),
            )
        return loc, new

    def _local_copy(self, loc: Location, tmp: Path, index: int) -> Path:
        """The file to inspect: the registered file itself, or a download of an s3:// one.
        Files above the upload limit are refused as uploads are."""
        limit = self.settings.limits.max_upload_bytes
        if loc.path is not None:
            size = loc.path.stat().st_size
            if size > limit:
                raise PayloadTooLarge(
                    f"{loc.href} has {size} bytes; files above {limit} bytes are not accepted "
                    "(RASTERCAT_LIMITS__MAX_UPLOAD_BYTES)"
                )
            return loc.path
        assert loc.bucket is not None and loc.key is not None
        return download_s3(
            self.settings.s3, loc.bucket, loc.key, tmp / f"{index}-{loc.name}", limit
        )

    def _inspect(self, path: Path, specs: Any) -> Any:
        from rastercat.ingest.inplace import inspect_existing

        return inspect_existing(path, specs, self.settings.limits)

    def _convert(
        self,
        p: Principal,
        product: dict[str, Any],
        loc: Location,
        path: Path,
        new: NewImage,
        reason: str,
    ) -> str:
        """Queue an ingest job converting a copy of the file (the original is left alone)."""
        uid = uuid.uuid4().hex
        key = f"uploads/{uid}/register/{loc.name}"
        copy = self.work_dir / f"{uid}.part"
        if loc.path is not None:
            shutil.copyfile(path, copy)
        else:
            os.replace(path, copy)  # a download of our own
        size = copy.stat().st_size
        self.objects.put_file(copy, key)
        now = utcnow()
        params = {
            "upload_type": "file",
            "file_name": loc.name,
            "metadata": new.attrs,
            "image_key": new.key,
            "registered_from": loc.href,
            "registered_note": f"registered from {loc.href}, which cannot be recorded in place "
            f"({reason}): converted to a COG in rastercat's storage; the original is left as it is",
        }
        try:
            with self.repo.tx() as conn:
                Uploads(self.repo).create(
                    conn,
                    {
                        "uid": uid,
                        "product_uid": product["uid"],
                        "product_id": product["id"],
                        "upload_id": loc.name,
                        "image_key": new.key,
                        "owner_pk": p.user_pk,
                        "status": "PENDING",
                        "attempts": 0,
                        "file_key": key,
                        "file_size": size,
                        "params": params,
                        "log": "",
                        "created": now,
                        "updated": now,
                    },
                )
        except Exception:
            self.objects.delete(key)
            raise
        if self.on_pending is not None:
            self.on_pending(uid)
        return uid

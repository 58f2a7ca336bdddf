"""Uploads: the signed two-step protocol (§2.7), the job records, and upload results (§2.8)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rastercat.catalog.arrivals import ArrivalCheck, advance
from rastercat.catalog.principal import Principal
from rastercat.catalog.service import CatalogService, split_acl, sub_key
from rastercat.catalog.tokens import mint_upload_token, verify_upload_token
from rastercat.catalog.upload_access import check_image_access, recheck
from rastercat.catalog.upload_claims import Claim, lost_hold, renew_interval
from rastercat.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from rastercat.protocol.dl017 import continuation
from rastercat.protocol.dl017.image_attrs import ImageAttrs
from rastercat.protocol.dl017.uploads import upload_doc
from rastercat.protocol.validation import check_key, parse_datetime, validate_attrs
from rastercat.store.objects import DirectUploads, ObjectStore
from rastercat.store.ports import UploadRepository
from rastercat.store.spool import Spool
from rastercat.store.sql.repo import Repo, utcnow
from rastercat.store.sql.uploads import Uploads
from rastercat.store.writeback import Writeback

RESAMPLERS = (
    "nearest", "average", "gauss", "cubic", "cubicspline", "lanczos", "average_mp", "average_magphase",
    "mode",
)  # fmt: skip
ACTIVE = ("UPLOADING", "WAITING", "PENDING", "RUNNING")
STATUSES = ("UPLOADING", "WAITING", "PENDING", "RUNNING", "SUCCESS", "FAILURE")


def _crs_wkt(value: object, field: str) -> str:
    """pyproj's WKT of an upload's CRS: the raw string (a URL, a path) never reaches GDAL."""
    from rastercat.raster.crs import request_wkt

    return request_wkt(value, field)


def parse_upload_request(key: str, body: dict[str, Any], max_extra: int) -> dict[str, Any]:
    """Validate step 1's body; returns the job parameters. Errors are 400s, before any byte is sent."""
    body = dict(body)
    controls = body.pop("process_controls", None) or {}
    if not isinstance(controls, dict):
        raise InvalidInput("'process_controls' must be an object", field="process_controls")
    upload_type = controls.get("upload_type", "file")
    if upload_type not in ("file", "ndarray"):
        raise InvalidInput(
            "'process_controls.upload_type' must be 'file' or 'ndarray'", field="upload_type"
        )
    unknown = set(controls) - {"upload_type", "multi_file", "overviews", "overview_resampler"}
    if unknown:
        raise InvalidInput(f"unknown process_controls attribute(s): {', '.join(sorted(unknown))}")
    params: dict[str, Any] = {"upload_type": upload_type, "file_name": key}
    image_id = body.pop("image_id", None)
    geotrans = body.pop("geotrans", None) if upload_type == "ndarray" else None
    proj4 = body.pop("proj4", None) if upload_type == "ndarray" else None
    wkt = body.pop("wkt_srs", None)
    if upload_type == "ndarray":
        if geotrans is None or (proj4 is None and wkt is None):
            raise InvalidInput(
                "an ndarray upload needs 'geotrans' and 'proj4' or 'wkt_srs'", field="geotrans"
            )
        if (
            not isinstance(geotrans, list)
            or len(geotrans) != 6
            or not all(isinstance(x, int | float) for x in geotrans)
            or geotrans[1] == 0
            or geotrans[5] == 0
        ):
            raise InvalidInput(
                "'geotrans' must be 6 numbers with non-zero pixel sizes", field="geotrans"
            )
        crs = _crs_wkt(wkt, "wkt_srs") if wkt else _crs_wkt(proj4, "proj4")
        params.update(geotrans=[float(x) for x in geotrans], crs=crs)
        overviews = controls.get("overviews")
        if overviews is not None:
            if (
                not isinstance(overviews, list)
                or len(overviews) > 16
                or not all(isinstance(o, int) and o >= 2 for o in overviews)
            ):
                raise InvalidInput(
                    "'overviews' must be a list of at most 16 integer factors >= 2",
                    field="overviews",
                )
            params["overviews"] = sorted(set(overviews))
        resampler = controls.get("overview_resampler")
        if resampler is not None:
            if resampler not in RESAMPLERS:
                raise InvalidInput(
                    f"'overview_resampler' must be one of {', '.join(RESAMPLERS)}",
                    field="overview_resampler",
                )
            params["overview_resampler"] = resampler
        image_key = image_id or key
    else:
        image_key = image_id or os.path.splitext(key)[0]
    multi = controls.get("multi_file")
    if multi is not None:
        if (
            not isinstance(multi, dict)
            or not isinstance(multi.get("image_files"), list)
            or not multi["image_files"]
            or not all(isinstance(f, str) for f in multi["image_files"])
            or not multi.get("image_id")
        ):
            raise InvalidInput(
                "'multi_file' needs 'image_files' (the file names in srcfile order) and 'image_id'",
                field="multi_file",
            )
        if key not in multi["image_files"]:
            raise InvalidInput(
                f"{key!r} is not listed in multi_file.image_files", field="multi_file"
            )
        for name in multi["image_files"]:
            check_key(name, "multi_file.image_files entry", field="multi_file", file_name=True)
        if len(set(multi["image_files"])) != len(multi["image_files"]):
            raise InvalidInput("multi_file.image_files has duplicate names", field="multi_file")
        params["multi_file"] = {
            "image_files": list(multi["image_files"]),
            "image_id": str(multi["image_id"]),
        }
        image_key = str(multi["image_id"])
    check_key(str(image_key), "image id")
    metadata = validate_attrs(ImageAttrs, body, "image")
    from rastercat.protocol.validation import check_extra_properties

    check_extra_properties(metadata.get("extra_properties"), max_extra)
    params["metadata"] = metadata
    params["image_key"] = str(image_key)
    return params


class UploadService:
    """Upload URLs point at the API (``/uploads/{token}``), or, when the object store can presign
    and ``s3.direct_uploads`` allows it, straight at the bucket. ``on_pending(uid)`` is called once
    each time a job becomes PENDING here (to wake or enqueue its workers)."""

    def __init__(self, repo: Repo, catalog: CatalogService, objects: ObjectStore, secret: bytes,
                 incoming: Path, ttl: int, max_bytes: int,
                 on_pending: Callable[[str], None] | None = None, idle: float = 300.0,
                 ) -> None:  # fmt: skip
        self.repo = repo
        self.rows: UploadRepository = Uploads(repo)
        self.catalog = catalog
        self.objects = objects
        self.secret = secret
        self.incoming = incoming
        self.ttl = ttl
        self.max_bytes = max_bytes
        self.on_pending = on_pending
        self.idle = idle
        """Seconds without data after which a PUT in progress is given up."""
        self.direct: DirectUploads | None = (
            objects
            if isinstance(objects, DirectUploads) and catalog.settings.s3.direct_uploads
            else None
        )
        self.arrivals = ArrivalCheck(repo, objects, max_bytes, on_pending)

    def begin(self, p: Principal, pid: str, key: str, body: dict[str, Any], base_url: str) -> str:
        """Step 1: record the upload and return its capability URL."""
        row = self.record(p, pid, key, body, direct=self.direct is not None)
        uid, file_key = row["uid"], row["file_key"]
        if self.direct is not None and file_key is not None:
            return self.direct.presign_put(file_key, self.ttl)
        token = mint_upload_token(self.secret, uid, self.ttl)
        return f"{base_url.rstrip('/')}/uploads/{token}"

    def record(
        self, p: Principal, pid: str, key: str, body: dict[str, Any], *, direct: bool
    ) -> dict[str, Any]:
        """Validate step 1 and record the UPLOADING row (also used by resumable uploads, see
        :mod:`rastercat.catalog.multipart`); returns the row."""
        # The name becomes a path component of the stored key: refuse what no file system stores
        # now, not after the bytes were sent.
        check_key(key, "upload file name", field="key", file_name=True)
        params = parse_upload_request(key, body, self.catalog.settings.limits.max_extra_properties)
        # ACL fields (the 0.17 client sends add_image's keyword arguments) apply to the image, as
        # with add_image and change_image; they are not image attributes.
        params["acl"] = split_acl(params["metadata"])
        now = utcnow()
        uid = uuid.uuid4().hex
        # A direct upload's key is known in advance: its arrival is noticed by looking for it.
        file_key = f"uploads/{uid}/{key}" if direct else None
        values: dict[str, Any] = {}
        with self.repo.tx() as conn:
            product = self.catalog.product_for(conn, p, pid, "write")
            check_image_access(conn, self.repo, p, product, params["image_key"], params["acl"])
            values = {
                    "uid": uid,
                    "product_uid": product["uid"],
                    "product_id": pid,
                    "upload_id": key,
                    "image_key": params["image_key"],
                    "group_key": params["image_key"] if "multi_file" in params else None,
                    "owner_pk": p.user_pk,
                    "status": "UPLOADING",
                    "attempts": 0,
                    "file_key": file_key,
                    "params": params,
                    "log": "",
                    "created": now,
                    "updated": now,
                }  # fmt: skip
            values["pk"] = self.rows.create(conn, values)
        return values

    def check_put(self, token: str, content_length: int | None) -> Claim:
        """Step 2 starts: check the URL, the size and the uploader's access, then hold the upload
        for this PUT (409 while another PUT holds it)."""
        uid = verify_upload_token(self.secret, token)
        row = self.rows.find(None, uid)
        if row is None:
            raise NotFound("this upload no longer exists")
        if row["status"] != "UPLOADING":
            raise Conflict("this upload URL has already been used: request a new one")
        if content_length is not None and content_length > self.max_bytes:
            raise PayloadTooLarge(
                f"the upload is {content_length} bytes; the limit is {self.max_bytes} bytes"
            )
        with self.repo.tx() as conn:
            # The URL is the uploader's credential: it stops working when their access does.
            recheck(conn, self.repo, row)
        return Claim.take(self.repo, row, self.idle)

    async def receive(self, claim: Claim, chunks: AsyncIterator[bytes]) -> dict[str, Any]:
        """Step 2: stream the body to a temporary file, then store it and queue the job.

        Whatever ends the PUT before the file is stored (the client going away, a body over the
        limit, no data for ``idle`` seconds, cancellation) removes the partial file and gives
        the upload back, so the URL can be used again."""
        import anyio

        self.incoming.mkdir(parents=True, exist_ok=True)
        tmp = self.incoming / f"{claim.row['uid']}.{claim.attempt}.part"
        try:
            size = await self._receive_into(claim, chunks, tmp)
            if size == 0:
                raise InvalidInput("the upload is empty")
            return await anyio.to_thread.run_sync(self._stored, claim, tmp, size)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(claim.release)
            raise
        finally:
            tmp.unlink(missing_ok=True)

    async def _receive_into(self, claim: Claim, chunks: AsyncIterator[bytes], tmp: Path) -> int:
        import anyio

        size = 0
        renewed = anyio.current_time()
        every = renew_interval(self.idle)
        async with await anyio.open_file(tmp, "wb") as f:
            # Written back while it arrives, not later beside the conversion's writes.
            writeback = Writeback(f.wrapped.fileno())
            stream = chunks.__aiter__()
            async with Spool(f.wrapped) as spool:
                while True:
                    try:
                        with anyio.fail_after(self.idle):
                            chunk = await stream.__anext__()
                    except StopAsyncIteration:
                        break
                    except TimeoutError:
                        raise Conflict(
                            f"no data arrived for {self.idle:g} s: PUT the file again"
                        ) from None
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise PayloadTooLarge(
                            f"the upload is larger than the limit of {self.max_bytes} bytes"
                        )
                    await spool.add(chunk)
                    if writeback.due(spool.written):
                        await anyio.to_thread.run_sync(writeback.start, spool.written)
                    if anyio.current_time() - renewed >= every:
                        if not await anyio.to_thread.run_sync(claim.renew):
                            raise lost_hold(self.idle)
                        renewed = anyio.current_time()
                await spool.flush()
            await f.flush()
            await anyio.to_thread.run_sync(writeback.start, size)
        return size

    def _stored(self, claim: Claim, tmp: Path, size: int) -> dict[str, Any]:
        key = claim.key
        # Storing a large file (to S3, say) takes a while with no data arriving: keep the hold.
        with claim.kept():
            self.objects.put_file(tmp, key)
        return self.stored(claim, size)

    def stored(self, claim: Claim, size: int, *, delete_on_loss: bool = True) -> dict[str, Any]:
        """The claimed upload's file is in the object store at ``claim.key``: queue its job
        (PENDING, or WAITING for the other files of its scene). The file is deleted when the job
        cannot be queued (product deleted; ``delete_on_loss``: the hold was lost)."""
        row, key = claim.row, claim.key
        try:
            with self.repo.tx() as conn:
                product = self.catalog.products.find_uid(conn, row["product_uid"])
                if product is None:
                    raise NotFound("the product of this upload was deleted")
                status = advance(conn, row, key, size)
                if status is None:
                    raise lost_hold(self.idle)
        except Conflict:
            if delete_on_loss:
                self.objects.delete(key)
            raise
        except Exception:
            self.objects.delete(key)
            raise
        if status == "PENDING" and self.on_pending is not None:
            self.on_pending(row["uid"])
        return {**row, "file_key": key, "file_size": size, "status": status}

    # results -----------------------------------------------------------------------------------
    def results(self, p: Principal, pid: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.repo.tx() as conn:
            product = self.catalog.product_for(conn, p, pid, "read")
        limit = body.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            raise InvalidInput("'limit' must be an integer from 1 to 1000", field="limit")
        status = body.get("status")
        if status is not None:
            if str(status).upper() not in STATUSES:
                raise InvalidInput(f"'status' must be one of {', '.join(STATUSES)}", field="status")
            status = str(status).upper()
        since: dict[str, datetime] = {}
        for name in ("created", "updated"):
            if body.get(name) is not None:
                since[name] = datetime.fromisoformat(parse_datetime(body[name], name) or "")
        offset = continuation.count(body.get("offset"), "offset")
        token = body.get("continuation_token")
        if token:
            offset = continuation.decode_offset(token)

        def page() -> list[dict[str, Any]]:
            return self.rows.page(
                product["uid"], status=status, since=since, limit=limit + 1, offset=offset
            )

        rows = page()
        if self.direct is not None and self.arrivals.check(rows):
            rows = page()  # show the jobs as they are now
        more = len(rows) > limit
        next_token = continuation.encode_offset(offset + limit) if more else None
        return {
            "data": [upload_doc(r) for r in rows[:limit]],
            "meta": {"continuation_token": next_token},
        }

    def result(self, p: Principal, pid: str, upload_id: str) -> dict[str, Any]:
        with self.repo.tx() as conn:
            product = self.catalog.product_for(conn, p, pid, "read")
        upload_id = sub_key(pid, upload_id)
        candidates = {upload_id, upload_id.removesuffix(".tif")}
        latest = self.rows.latest(product["uid"], candidates, upload_id)
        rows = [latest] if latest is not None else []
        if not rows:
            raise NotFound(f"upload {upload_id!r} not found in product {pid!r}")
        if self.direct is not None and self.arrivals.check(rows):
            rows = [self.rows.find(None, rows[0]["uid"]) or rows[0]]
        return {"data": upload_doc(rows[0], full=True)}

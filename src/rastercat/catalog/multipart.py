"""Resumable uploads: one file sent in checksummed parts, several at once, resumed after a crash.

Why S3's multipart shape and not tus
------------------------------------
tus 1.0 (creation, checksum, expiration, termination; concatenation for parallel parts) fits a
server that receives every byte itself. On S3 storage the bytes must go straight to the bucket
(one PUT stops at 5 GiB, and a 30 GB file should not cross the API), and the bucket speaks S3
multipart, not tus: a tus server in front of S3 (tusd's s3store) relays every byte. So rastercat
serves the S3 multipart shape itself -- create, a URL per part, list parts, complete, abort -- with
S3's own per-part checksum header (``x-amz-checksum-sha256``). On S3 storage the part URLs are
presigned ``UploadPart`` URLs into a real multipart upload (the signature covers the checksum, so
S3 refuses other bytes); on local storage they point at the API, which verifies each part's
SHA-256 itself. The client has one code path for both stores.

The protocol (all but the first call authenticated by the session URL, a capability like the
0.17 upload URL; all under ``/uploads/``, so bodies are exempt from the JSON body cap)::

    POST {catalog}/products/{pid}/images/multipart/{name}   step 1's body + {"multipart": {"size", "part_size"}}
         -> {"session_url", "upload_id", "upload_uid", "part_size", "part_count", ...}
    GET    {session_url}                 which parts the server holds (also the client's heartbeat)
    POST   {session_url}/urls            {"parts": [{"part_number", "checksum_sha256"}]} -> URL + headers each
    PUT    {part url}                    the part's bytes, with ``x-amz-checksum-sha256`` (local: 400 on mismatch)
    POST   {session_url}/complete        {"sha256": whole file, hex} -> the upload, as after a finished PUT
    DELETE {session_url}                 abort

Completion enters exactly the path of a finished PUT: the same permission re-check
(:func:`~rastercat.catalog.upload_access.recheck`) and :meth:`UploadService.stored`, which queues
the same job. While parts arrive the upload row is held like a PUT's (``file_key`` + a lease
renewed by every request), so the maintenance sweep ends it after ``upload_idle_timeout`` seconds
of silence; :meth:`MultipartService.sweep_abandoned` then removes its parts (local) or aborts the
S3 multipart upload. The whole file's SHA-256 is recorded on the upload result: computed by the
API while assembling (local storage; a mismatch with the client's is refused), or as the client
computed it when S3 assembles the parts (each part's SHA-256 is checked by S3).
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from rastercat.catalog.principal import Principal
from rastercat.catalog.tokens import mint_upload_token, verify_upload_token
from rastercat.catalog.upload_access import recheck
from rastercat.catalog.upload_claims import Claim, renew_interval
from rastercat.catalog.uploads import UploadService
from rastercat.config import MultipartSettings, Settings
from rastercat.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, StoreError
from rastercat.store.multipart import ASSEMBLED, LocalParts, Part, PartStore, S3Parts
from rastercat.store.sql.repo import utcnow

log = logging.getLogger("rastercat.uploads")
CHECKSUM_HEADER = "x-amz-checksum-sha256"
RECEIVED_CAP = 1_000_000


def part_store(uploads: UploadService, root: Path, settings: MultipartSettings) -> PartStore:
    """S3 multipart when uploads go straight to the bucket; else parts through the API."""
    from rastercat.store.s3 import S3ObjectStore

    if uploads.direct is not None and isinstance(uploads.objects, S3ObjectStore):
        return S3Parts(uploads.objects)
    return LocalParts(root, settings.min_part_bytes)


def parse_checksum(value: Any, what: str) -> str:
    """A base64 SHA-256 as S3 writes it; InvalidInput naming the checksum otherwise."""
    try:
        if isinstance(value, str) and len(base64.b64decode(value, validate=True)) == 32:
            return value
    except (binascii.Error, ValueError):
        pass
    raise InvalidInput(f"{what} must be the base64 SHA-256 of the part", field=CHECKSUM_HEADER)


class MultipartService:
    def __init__(self, uploads: UploadService, parts: PartStore, settings: MultipartSettings,
                 incoming: Path) -> None:  # fmt: skip
        self.uploads = uploads
        self.repo = uploads.repo
        self.parts = parts
        self.settings = settings
        self.incoming = incoming
        self.idle = uploads.idle
        self.received: Counter[tuple[str, int]] = Counter()
        """Parts stored through the API, by (upload uid, part number): a part counted twice was
        sent twice. For metrics and tests."""

    @classmethod
    def for_app(cls, uploads: UploadService, settings: Settings) -> MultipartService:
        """The service of one app: parts under ``<data_dir>/multipart`` or in the S3 bucket."""
        parts = part_store(uploads, settings.data_dir / "multipart", settings.multipart)
        return cls(uploads, parts, settings.multipart, settings.data_dir / "incoming")

    # step 1 -------------------------------------------------------------------------------------
    def create(self, p: Principal, pid: str, key: str, body: dict[str, Any], base_url: str
               ) -> dict[str, Any]:  # fmt: skip
        body = dict(body)
        spec = body.pop("multipart", None)
        if not isinstance(spec, dict):
            raise InvalidInput("'multipart' must be an object with 'size' and 'part_size'",
                               field="multipart")  # fmt: skip
        size, part_size = spec.get("size"), spec.get("part_size")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise InvalidInput("'multipart.size' must be the file's size in bytes (> 0)",
                               field="multipart.size")  # fmt: skip
        if size > self.uploads.max_bytes:
            raise PayloadTooLarge(
                f"the upload is {size} bytes; the limit is {self.uploads.max_bytes} bytes"
            )
        low, high = self.parts.min_part_bytes, self.settings.max_part_bytes
        if (
            not isinstance(part_size, int)
            or isinstance(part_size, bool)
            or not (low <= part_size <= high)
        ):
            raise InvalidInput(f"'multipart.part_size' must be from {low} to {high} bytes",
                               field="multipart.part_size")  # fmt: skip
        count = math.ceil(size / part_size)
        if count > self.settings.max_parts:
            raise InvalidInput(
                f"{count} parts of {part_size} bytes; at most {self.settings.max_parts} parts: "
                "use larger parts",
                field="multipart.part_size",
            )
        row = self.uploads.record(p, pid, key, body, direct=False)
        file_key = f"uploads/{row['uid']}/{key}"
        session = self.parts.create(row["uid"], file_key)
        mp = {"key": file_key, "session": session, "size": size, "part_size": part_size,
              "part_count": count}  # fmt: skip
        with self.repo.tx() as conn:
            self.uploads.rows.update_if(
                conn,
                row["pk"],
                {
                    "params": {**row["params"], "multipart": mp},
                    "file_key": file_key,
                    "lease_until": time.time() + self.idle,
                    "updated": utcnow(),
                },
                status="UPLOADING",
            )
        token = mint_upload_token(self.uploads.secret, row["uid"], self.settings.session_ttl)
        return {
            **self.doc({**row, "params": {**row["params"], "multipart": mp}}),
            "session_url": f"{base_url.rstrip('/')}/uploads/multipart/{token}",
        }

    # the session --------------------------------------------------------------------------------
    def session_row(self, token: str) -> dict[str, Any]:
        uid = verify_upload_token(self.uploads.secret, token)
        row = self.uploads.rows.find(None, uid)
        if row is None:
            raise NotFound("this upload no longer exists")
        if not row["params"].get("multipart"):
            raise NotFound("this upload is not a resumable upload")
        return row

    def hold(self, row: dict[str, Any]) -> Claim:
        """Check the uploader's access as it is now, then hold (or keep holding) the upload for
        this session: its lease is renewed by every request of the session."""
        if row["status"] != "UPLOADING":
            raise Conflict(f"this upload has ended ({row['status']}): start a new one")
        key = row["params"]["multipart"]["key"]
        now = time.time()
        lease = now + self.idle
        held = row["lease_until"] if row["file_key"] == key else None
        if held is not None and held - now > self.idle - renew_interval(self.idle):
            # Renewed moments ago (parts arrive several at a time): no write transaction for
            # each of them, only the access check.
            with self.repo.read() as conn:
                recheck(conn, self.repo, row)
            return Claim(self.repo, row, "multipart", self.idle)
        with self.repo.tx() as conn:
            recheck(conn, self.repo, row)
            # Held by this session already, or taken back after a restart gave it up.
            held_now = self.uploads.rows.hold(
                conn, row["pk"], key, {"file_key": key, "lease_until": lease, "updated": utcnow()}
            )
        if not held_now:
            raise Conflict("this upload is held by another request or has ended")
        return Claim(
            self.repo, {**row, "file_key": key, "lease_until": lease}, "multipart", self.idle
        )

    def doc(self, row: dict[str, Any], parts: list[Part] | None = None) -> dict[str, Any]:
        mp = row["params"]["multipart"]
        doc: dict[str, Any] = {
            "upload_id": row["upload_id"],
            "upload_uid": row["uid"],
            "status": row["status"],
            "size": mp["size"],
            "part_size": mp["part_size"],
            "part_count": mp["part_count"],
            "checksum_algorithm": "SHA256",
            "direct": self.parts.direct,
            "idle_timeout": self.idle,
        }
        if parts is not None:
            doc["parts"] = [
                {"part_number": x.number, "size": x.size, "checksum_sha256": x.checksum_sha256}
                for x in parts
            ]
        return doc

    def status(self, token: str) -> dict[str, Any]:
        """The session and the parts the server holds; also renews the upload's lease."""
        row = self.session_row(token)
        if row["status"] != "UPLOADING":
            return self.doc(row, [])
        claim = self.hold(row)
        return self.doc(claim.row, self.listed(row))

    def listed(self, row: dict[str, Any]) -> list[Part]:
        """The parts the storage holds. An S3 multipart upload that S3 already assembled (this API
        stopped between S3's completion and recording it) lists as complete, so that completing
        it again records it."""
        mp = row["params"]["multipart"]
        try:
            return self.parts.parts(row["uid"], mp["key"], mp["session"])
        except StoreError:
            if not (
                isinstance(self.parts, S3Parts) and self.parts.assembled(mp["key"], mp["size"])
            ):
                raise
        return [
            Part(n, self.expected_size(mp, n), None, ASSEMBLED)
            for n in range(1, mp["part_count"] + 1)
        ]

    def expected_size(self, mp: dict[str, Any], number: int) -> int:
        if (
            not isinstance(number, int)
            or isinstance(number, bool)
            or not (1 <= number <= mp["part_count"])
        ):
            raise InvalidInput(f"part numbers go from 1 to {mp['part_count']}", field="part_number")
        if number < mp["part_count"]:
            return int(mp["part_size"])
        return int(mp["size"] - mp["part_size"] * (mp["part_count"] - 1))

    def part_urls(self, token: str, body: Any, base_url: str) -> dict[str, Any]:
        row = self.session_row(token)
        mp = row["params"]["multipart"]
        wanted = body.get("parts") if isinstance(body, dict) else None
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= 1000:
            raise InvalidInput("'parts' must list 1 to 1000 {part_number, checksum_sha256}",
                               field="parts")  # fmt: skip
        self.hold(row)
        out = []
        for item in wanted:
            if not isinstance(item, dict):
                raise InvalidInput("each of 'parts' must be an object", field="parts")
            number = item.get("part_number")
            if not isinstance(number, int):
                raise InvalidInput("'part_number' must be an integer", field="part_number")
            self.expected_size(mp, number)
            checksum = parse_checksum(item.get("checksum_sha256"), "'checksum_sha256'")
            if isinstance(self.parts, S3Parts):
                url, headers = self.parts.presign_part(
                    mp["key"],
                    mp["session"],
                    number,
                    checksum,
                    self.uploads.ttl,
                )
            else:
                url = f"{base_url.rstrip('/')}/uploads/multipart/{token}/parts/{number}"
                headers = {CHECKSUM_HEADER: checksum}
            out.append({"part_number": number, "url": url, "headers": headers})
        return {"parts": out}

    async def receive_part(self, token: str, number: int, checksum: str | None,
                           content_length: int | None, chunks: AsyncIterator[bytes]
                           ) -> dict[str, Any]:  # fmt: skip
        """A part's bytes, through the API (local storage): stored only if their SHA-256 is the
        one in ``x-amz-checksum-sha256``; 400 naming the checksum otherwise."""
        from rastercat.catalog.multipart_receive import receive_part

        return await receive_part(self, token, number, checksum, content_length, chunks)

    def complete(self, token: str, body: Any) -> dict[str, Any]:
        """Assemble the parts into the upload's file, then queue its job exactly as a finished PUT
        does (:mod:`rastercat.catalog.multipart_complete`)."""
        from rastercat.catalog.multipart_complete import complete

        return complete(self, token, body)

    def abort(self, token: str) -> None:
        row = self.session_row(token)
        mp = row["params"]["multipart"]
        with self.repo.tx() as conn:
            self.uploads.rows.update_if(
                conn,
                row["pk"],
                {
                    "status": "FAILURE",
                    "failure_type": "exception",
                    "exception_name": "UploadAborted",
                    "lease_until": None,
                    "updated": utcnow(),
                    "log": (row["log"] + "\n" if row["log"] else "")
                    + "FAILED: aborted by the client",
                },
                status="UPLOADING",
            )
        self.parts.abort(row["uid"], mp["key"], mp["session"])

    # maintenance --------------------------------------------------------------------------------
    def sweep_abandoned(self) -> int:
        """Remove the parts (local) or abort the S3 multipart uploads of uploads that are no longer
        receiving: ended by the idle timeout, aborted, completed, or never recorded. Returns how
        many were removed."""
        held = list(self.parts.sessions())
        if not held:
            return 0
        uids = sorted({uid for uid, _, _ in held})
        rows = {r["uid"]: r for r in self.uploads.rows.many(uids)}
        removed = 0
        for uid, key, session in held:
            row = rows.get(uid)
            mp = (row or {}).get("params", {}).get("multipart") or {}
            if (
                row is not None
                and row["status"] == "UPLOADING"
                and mp.get("session")
                in (
                    session,
                    None,  # being created: the row learns its S3 session just after S3 made it
                )
            ):
                continue
            self.parts.abort(uid, key or mp.get("key", ""), session)
            removed += 1
        if removed:
            log.info("removed the parts of %d abandoned resumable upload(s)", removed)
        return removed

"""Where the parts of a resumable upload wait until the upload completes.

Two implementations of one small protocol, :class:`PartStore`:

* :class:`LocalParts`: the API receives each part and keeps it as a file under a folder of its own
  per upload (``<data_dir>/multipart/<upload uid>/``), named by its number and SHA-256, so
  listing the folder answers "which parts do you hold". Completion concatenates them, streaming,
  into one file that is then stored like the body of a finished PUT.
* :class:`S3Parts`: a real S3 multipart upload (``CreateMultipartUpload`` with SHA-256 checksums,
  presigned ``UploadPart`` URLs whose signature covers the part's ``x-amz-checksum-sha256``, so the
  bytes go straight to the bucket and S3 itself refuses a part that does not match,
  ``ListParts``, ``CompleteMultipartUpload``, ``AbortMultipartUpload``).

botocore errors become :class:`~rastercat.errors.StoreError` through the S3 store's one translator.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from rastercat.errors import Conflict

if TYPE_CHECKING:
    from rastercat.store.s3 import S3ObjectStore

S3_MIN_PART_BYTES = 5 * 2**20
"""S3's smallest part, except the last."""
COPY_BUFFER = 2**20
ASSEMBLED = "assembled"
"""The ``etag`` of parts listed for a multipart upload that S3 already assembled."""


@dataclass(frozen=True)
class Part:
    number: int
    size: int
    checksum_sha256: str | None
    """Base64 SHA-256 of the part (the form of S3's ``x-amz-checksum-sha256``), when known."""
    etag: str | None = None


class PartStore(Protocol):
    direct: bool
    """Parts go straight to storage (presigned URLs), not through the API."""
    min_part_bytes: int

    def create(self, uid: str, key: str) -> str:
        """Start a multipart upload of the object ``key``; returns the storage's session id."""
        ...

    def parts(self, uid: str, key: str, session: str) -> list[Part]: ...
    def abort(self, uid: str, key: str, session: str) -> None: ...
    def sessions(self) -> Iterator[tuple[str, str, str]]:
        """``(upload uid, object key, session)`` of every multipart upload the storage holds."""
        ...


class LocalParts:
    """Parts as files ``<root>/<uid>/<number>.<sha256 hex>.part``."""

    direct = False

    def __init__(self, root: Path, min_part_bytes: int) -> None:
        self.root = root
        self.min_part_bytes = min_part_bytes

    def folder(self, uid: str) -> Path:
        if not uid.isalnum():  # a uuid hex from our own database; never a path from a request
            raise ValueError(f"bad upload uid {uid!r}")
        return self.root / uid

    def create(self, uid: str, key: str) -> str:
        self.folder(uid).mkdir(parents=True, exist_ok=True)
        return ""

    def temp_part(self, uid: str, number: int) -> Path:
        folder = self.folder(uid)
        if not folder.is_dir():
            raise Conflict("this upload has ended: its parts were removed")
        return folder / f".{number}.{uuid.uuid4().hex[:12]}.tmp"

    def keep_part(self, uid: str, number: int, tmp: Path, sha256_hex: str) -> None:
        """Move a received, verified part into place (a part sent again replaces the old one)."""
        folder = self.folder(uid)
        for old in folder.glob(f"{number}.*.part"):
            old.unlink(missing_ok=True)
        os.replace(tmp, folder / f"{number}.{sha256_hex}.part")

    def parts(self, uid: str, key: str, session: str) -> list[Part]:
        import base64

        found: dict[int, Part] = {}
        try:
            entries = list(os.scandir(self.folder(uid)))
        except FileNotFoundError:
            return []
        for entry in entries:
            name = entry.name
            if not name.endswith(".part") or name.startswith("."):
                continue
            number, digest, _ = name.split(".")
            try:
                size = entry.stat().st_size
            except FileNotFoundError:  # replaced meanwhile
                continue
            checksum = base64.b64encode(bytes.fromhex(digest)).decode()
            found[int(number)] = Part(int(number), size, checksum)
        return [found[n] for n in sorted(found)]

    def assemble(self, uid: str, parts: list[Part], dest: Path) -> str:
        """Concatenate ``parts`` (in order) into ``dest``, streaming; returns its SHA-256 (hex)."""
        folder = self.folder(uid)
        digest = hashlib.sha256()
        with dest.open("wb") as out:
            for part in parts:
                matches = list(folder.glob(f"{part.number}.*.part"))
                if len(matches) != 1:
                    raise Conflict(f"part {part.number} changed while the upload completed")
                with matches[0].open("rb") as f:
                    while block := f.read(COPY_BUFFER):
                        digest.update(block)
                        out.write(block)
        return digest.hexdigest()

    def abort(self, uid: str, key: str, session: str) -> None:
        shutil.rmtree(self.folder(uid), ignore_errors=True)

    def sessions(self) -> Iterator[tuple[str, str, str]]:
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return
        for entry in entries:
            if entry.is_dir() and entry.name.isalnum():
                yield entry.name, "", ""


class S3Parts:
    """A real S3 multipart upload into the object store's bucket."""

    direct = True
    min_part_bytes = S3_MIN_PART_BYTES
    list_page_size = 1000
    """Parts per ``ListParts`` request (S3's own maximum); the listing follows the pages."""

    def __init__(self, store: S3ObjectStore) -> None:
        self.store = store

    def create(self, uid: str, key: str) -> str:
        from rastercat.store.s3 import _translate

        with _translate(f"starting a multipart upload of {key!r}"):
            answer = self.store.client.create_multipart_upload(
                Bucket=self.store.bucket, Key=self.store._name(key), ChecksumAlgorithm="SHA256"
            )
        return str(answer["UploadId"])

    def presign_part(
        self, key: str, session: str, number: int, checksum: str, ttl: int
    ) -> tuple[str, dict[str, str]]:
        """A URL that takes one ``PUT`` of part ``number``, and the headers it must carry: the
        signature covers the checksum, so only those bytes are accepted."""
        from rastercat.store.s3 import _translate

        with _translate(f"signing part {number} of {key!r}"):
            url = self.store.client.generate_presigned_url(
                "upload_part",
                Params={
                    "Bucket": self.store.bucket,
                    "Key": self.store._name(key),
                    "UploadId": session,
                    "PartNumber": number,
                    "ChecksumAlgorithm": "SHA256",
                    "ChecksumSHA256": checksum,
                },  # fmt: skip
                ExpiresIn=ttl,
                HttpMethod="PUT",
            )
        return str(url), {
            "x-amz-checksum-sha256": checksum,
            "x-amz-sdk-checksum-algorithm": "SHA256",
        }

    def parts(self, uid: str, key: str, session: str) -> list[Part]:
        from rastercat.store.s3 import _translate

        out: list[Part] = []
        paginator = self.store.client.get_paginator("list_parts")
        with _translate(f"listing the parts of {key!r}"):
            for page in paginator.paginate(
                Bucket=self.store.bucket, Key=self.store._name(key), UploadId=session,
                PaginationConfig={"PageSize": self.list_page_size},
            ):  # fmt: skip
                for p in page.get("Parts", []):
                    out.append(
                        Part(
                            int(p["PartNumber"]), int(p["Size"]), p.get("ChecksumSHA256"), p["ETag"]
                        )
                    )
        return sorted(out, key=lambda p: p.number)

    def complete(self, key: str, session: str, parts: list[Part]) -> None:
        from rastercat.store.s3 import _translate

        listed = []
        for p in parts:
            item: dict[str, object] = {"PartNumber": p.number, "ETag": p.etag}
            if p.checksum_sha256:
                item["ChecksumSHA256"] = p.checksum_sha256
            listed.append(item)
        with _translate(f"completing the multipart upload of {key!r}"):
            self.store.client.complete_multipart_upload(
                Bucket=self.store.bucket,
                Key=self.store._name(key),
                UploadId=session,
                MultipartUpload={"Parts": listed},
            )

    def assembled(self, key: str, size: int) -> bool:
        """Whether the object of a completed multipart upload is in the bucket, whole."""
        return self.store.exists(key) and self.store.size(key) == size

    def abort(self, uid: str, key: str, session: str) -> None:
        from rastercat.store.s3 import _translate

        try:
            self.store.client.abort_multipart_upload(
                Bucket=self.store.bucket, Key=self.store._name(key), UploadId=session
            )
        except Exception as exc:
            if _is_no_such_upload(exc):
                return  # aborted or completed already
            with _translate(f"aborting the multipart upload of {key!r}"):
                raise

    def sessions(self) -> Iterator[tuple[str, str, str]]:
        from rastercat.store.s3 import _translate

        prefix = self.store.prefix + "uploads/"
        paginator = self.store.client.get_paginator("list_multipart_uploads")
        with _translate("listing multipart uploads"):
            for page in paginator.paginate(Bucket=self.store.bucket, Prefix=prefix):
                for item in page.get("Uploads", []):
                    key = item["Key"][len(self.store.prefix) :]
                    yield key.split("/")[1], key, str(item["UploadId"])


def _is_no_such_upload(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in (
        "NoSuchUpload",
        "404",
    )

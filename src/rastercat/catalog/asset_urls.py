"""Short-lived signed URLs of an image's files, which GDAL (``/vsicurl/``), odc-stac or QGIS open
with no extra header.

A signature is an HMAC (the server secret) over the image id, the object it points at and the
expiry, so it is refused once expired, once altered, and once the image is deleted or its file
replaced (the stored object key changes). On an S3 store the COG's href is the store's own presigned
GET URL instead, and the bytes never pass through the API.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from rastercat.errors import Forbidden
from rastercat.store.sql.repo import Repo
from rastercat.store.sql.stac import SqlStacReads

KINDS = ("data", "thumbnail")


def _mac(secret: bytes, kind: str, image_id: str, storage_key: str, expires: int) -> str:
    message = f"rastercat-asset\n{kind}\n{image_id}\n{storage_key}\n{expires}".encode()
    # The one-shot C digest: a page of 100 items signs 200 URLs.
    return hmac.digest(secret, message, hashlib.sha256).hex()


@dataclass(frozen=True)
class AssetSigner:
    secret: bytes
    ttl: int
    """Seconds a new URL stays valid."""

    def sign(
        self, kind: str, image_id: str, storage_key: str, now: float | None = None
    ) -> dict[str, str]:
        """The query parameters (``id``, ``expires``, ``sig``) of a new signed URL."""
        expires = int((time.time() if now is None else now) + self.ttl)
        sig = _mac(self.secret, kind, image_id, storage_key, expires)
        return {"id": image_id, "expires": str(expires), "sig": sig}

    def verify(
        self, repo: Repo, kind: str, image_id: str, expires: str, sig: str
    ) -> dict[str, Any]:
        """The image row a signed URL names; Forbidden when it is expired, forged, or its image
        (or file) is gone. No caller identity is involved: the signature is the permission."""
        refused = Forbidden(
            "this asset URL has expired or is not valid; search again for a new one"
        )
        if kind not in KINDS:
            raise refused
        try:
            when = int(expires)
        except ValueError:
            raise refused from None
        if when < time.time():
            raise refused
        row = SqlStacReads(repo).image(image_id)
        if row is None or not row["storage_key"]:
            raise refused
        expected = _mac(self.secret, kind, image_id, row["storage_key"], when)
        if not hmac.compare_digest(expected, sig):
            raise refused
        return row


def presigns(objects: Any) -> bool:
    """Whether the store hands out presigned GET URLs of its own (S3): decided once per page."""
    from rastercat.store.s3 import S3ObjectStore

    return isinstance(objects, S3ObjectStore)


def presign_get(objects: Any, key: str, expires: int) -> str | None:
    """A presigned GET URL of ``key`` when the store is S3 (None for a local store)."""
    from rastercat.store.s3 import S3ObjectStore, _translate

    if not isinstance(objects, S3ObjectStore):
        return None
    with _translate(f"signing {key!r}"):
        return str(
            objects.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": objects.bucket, "Key": objects._name(key)},
                ExpiresIn=int(expires),
            )
        )

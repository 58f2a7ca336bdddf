"""Storage locations of files that rastercat did not write: COGs registered in place.

An image's ``storage_key`` is either a key of the object store (a file rastercat wrote, and may
delete) or ``external:`` followed by where the file already was: an absolute local path or an
``s3://bucket/key`` URL. Such files are read where they are and never deleted by rastercat.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rastercat.store.objects import ObjectStore

if TYPE_CHECKING:
    from rastercat.config import S3Settings

EXTERNAL_PREFIX = "external:"


def external_key(href: str) -> str:
    """The storage key of a registered file (``href``: a resolved absolute path or s3:// URL)."""
    return EXTERNAL_PREFIX + href


def is_external(key: str | None) -> bool:
    return bool(key) and str(key).startswith(EXTERNAL_PREFIX)


def external_href(key: str) -> str:
    return key.removeprefix(EXTERNAL_PREFIX)


def owned_key(key: str | None) -> str | None:
    """``key`` when it names a file rastercat wrote (deletable), else None."""
    return None if not key or is_external(key) else key


def image_gdal_path(objects: ObjectStore, key: str) -> str:
    """Where GDAL opens an image's COG: in the store, or where a registered file lies (an s3://
    file opens through ``/vsis3/`` with the S3 settings' endpoint and credentials)."""
    if not is_external(key):
        return objects.gdal_path(key)
    href = external_href(key)
    if href.startswith("s3://"):
        return "/vsis3/" + href.removeprefix("s3://")
    return href


def download_s3(s3: S3Settings, bucket: str, key: str, dest: Path, max_bytes: int) -> Path:
    """Copy ``s3://bucket/key`` to ``dest`` (beside it, then renamed) with the S3 settings'
    endpoint and credentials, to inspect it like an upload; StoreError when it cannot be read,
    PayloadTooLarge above ``max_bytes`` (the upload limit), checked before a byte is copied."""
    import os
    import uuid

    from rastercat.errors import PayloadTooLarge
    from rastercat.store.s3 import _translate, make_s3_client

    client = make_s3_client(s3)
    with _translate(f"reading s3://{bucket}/{key}"):
        size = int(client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    if size > max_bytes:
        raise PayloadTooLarge(
            f"s3://{bucket}/{key} has {size} bytes; files above {max_bytes} bytes are not accepted "
            "(RASTERCAT_LIMITS__MAX_UPLOAD_BYTES)"
        )
    tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        with _translate(f"reading s3://{bucket}/{key}"):
            client.download_file(bucket, key, str(tmp))
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest

"""Object storage in any S3-compatible service (AWS S3, MinIO, Ceph, moto...), through boto3.

Implements the ``ObjectStore`` protocol of :mod:`rastercat.store.objects` with keys under an optional
prefix of one bucket. GDAL reads the stored COGs in place through ``/vsis3/``, configured by
:func:`gdal_env`; uploads can go straight to the bucket with :meth:`S3ObjectStore.presign_put`,
so their bytes never pass through the API.

botocore errors become :class:`rastercat.errors.StoreError` in one place, :func:`_translate`.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from rastercat.errors import StoreError
from rastercat.store.objects import _check_key

if TYPE_CHECKING:
    from rastercat.config import S3Settings

_MISSING = {"404", "NoSuchKey", "NotFound"}


@contextlib.contextmanager
def _translate(what: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _MISSING:
            raise StoreError(f"{what}: object is missing from storage") from exc
        raise StoreError(f"{what}: object storage refused ({code}): {exc}") from exc
    except BotoCoreError as exc:
        raise StoreError(f"{what}: object storage failed: {exc}") from exc


def _is_missing(exc: BaseException) -> bool:
    from botocore.exceptions import ClientError

    return isinstance(exc, ClientError) and exc.response.get("Error", {}).get("Code") in _MISSING


def make_s3_client(s3: S3Settings) -> Any:
    """A boto3 S3 client; unset settings fall back to boto3's own lookup (AWS_* environment,
    ~/.aws files, instance roles)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=s3.endpoint_url,
        region_name=s3.region
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION"),
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        # Path-style addressing works with every S3-compatible service (virtual hosts need DNS).
        config=Config(
            # SigV4 everywhere: presigned URLs otherwise default to SigV2, which newer AWS regions
            # and some S3-compatible services refuse.
            signature_version="s3v4",
            s3={"addressing_style": "path"} if s3.endpoint_url else {},
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )


def gdal_s3_options(s3: S3Settings) -> dict[str, str]:
    """GDAL options (no credentials) for reading ``/vsis3/`` paths of this store.

    rasterio refuses credentials as plain options (they travel in a session: :func:`gdal_env`).
    """
    opts: dict[str, str] = {
        # Opening a COG must not list the bucket "directory" (one request per open saved).
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    }
    if s3.endpoint_url:
        url = urlparse(s3.endpoint_url)
        opts["AWS_S3_ENDPOINT"] = url.netloc + url.path.rstrip("/")
        opts["AWS_HTTPS"] = "YES" if url.scheme == "https" else "NO"
        opts["AWS_VIRTUAL_HOSTING"] = "FALSE"
    return opts


def gdal_env(s3: S3Settings, **options: Any) -> Any:
    """A ``rasterio.Env`` that reads this store's ``/vsis3/`` paths: credentials from settings, or
    else found by boto3 in the AWS environment and config files, as for the API's own client."""
    import rasterio
    from rasterio.session import AWSSession

    opts = gdal_s3_options(s3)
    region = s3.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    session = AWSSession(
        aws_access_key_id=s3.access_key_id,
        aws_secret_access_key=s3.secret_access_key,
        region_name=region,
        endpoint_url=opts.get("AWS_S3_ENDPOINT"),
    )
    return rasterio.Env(session=session, **{**opts, **options})


class S3ObjectStore:
    """Keys of the ``ObjectStore`` protocol, stored as ``{prefix}{key}`` in one bucket.

    ``put_file`` uploads, then removes the local file (the protocol moves files into place); S3 makes
    an object visible only once completely written, so readers never see half an object.
    """

    def __init__(self, s3: S3Settings, client: Any | None = None) -> None:
        if not s3.bucket:
            raise StoreError("S3 storage needs a bucket (RASTERCAT_S3__BUCKET)")
        self.settings = s3
        self.bucket = s3.bucket
        self.prefix = s3.prefix.strip("/") + "/" if s3.prefix.strip("/") else ""
        self.client = client if client is not None else make_s3_client(s3)

    def _name(self, key: str) -> str:
        return self.prefix + _check_key(key)

    # the ObjectStore protocol ---------------------------------------------------------------
    def put_file(self, src: Path, key: str, *, durable: bool = False) -> None:
        # An object S3 acknowledged is durable: nothing more to do for ``durable``.
        with _translate(f"storing {key!r}"):
            self.client.upload_file(str(src), self.bucket, self._name(key))
        src.unlink(missing_ok=True)

    def gdal_path(self, key: str) -> str:
        return f"/vsis3/{self.bucket}/{self._name(key)}"

    def fetch(self, key: str, dest_dir: Path) -> Path:
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / key.rsplit("/", 1)[-1]
        # Download beside the target and rename, so a failed download never looks complete.
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            with _translate(f"fetching {key!r}"):
                self.client.download_file(self.bucket, self._name(key), str(tmp))
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def delete(self, key: str) -> None:
        with _translate(f"deleting {key!r}"):
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if _is_missing(exc):
                return False
            with _translate(f"checking {key!r}"):
                raise
        return True

    def size(self, key: str) -> int:
        with _translate(f"sizing {key!r}"):
            head = self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        return int(head["ContentLength"])

    def list(self, prefix: str = "") -> Iterator[str]:
        # As a folder, like the local store: "products" lists "products/...", not "products2/...".
        folder = prefix.strip("/")
        full = self.prefix + (folder + "/" if folder else "")
        paginator = self.client.get_paginator("list_objects_v2")
        with _translate(f"listing {prefix!r}"):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix) :]

    # beyond the protocol ----------------------------------------------------------------------
    def presign_put(self, key: str, expires: int | None = None) -> str:
        """A URL that accepts one ``PUT`` of the object's bytes, straight to the bucket."""
        with _translate(f"signing {key!r}"):
            return str(
                self.client.generate_presigned_url(
                    "put_object",
                    Params={"Bucket": self.bucket, "Key": self._name(key)},
                    ExpiresIn=int(expires or self.settings.presign_ttl),
                    HttpMethod="PUT",
                )
            )

    def gdal_env(self, **options: Any) -> Any:
        """The ``rasterio.Env`` in which :meth:`gdal_path` paths open."""
        return gdal_env(self.settings, **options)

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (development and tests; production buckets are
        made by their operators)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except Exception as exc:
            from botocore.exceptions import ClientError

            if not isinstance(exc, ClientError):
                with _translate(f"checking bucket {self.bucket!r}"):
                    raise
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        region = self.client.meta.region_name
        if region and region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        with _translate(f"creating bucket {self.bucket!r}"):
            self.client.create_bucket(**kwargs)

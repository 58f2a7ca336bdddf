"""The object store the settings choose (every kind of store is built here, and only here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rastercat.store.objects import ObjectStore, open_object_store

if TYPE_CHECKING:
    from rastercat.config import Settings


def object_store_from_settings(settings: Settings) -> ObjectStore:
    """The store the settings choose: S3 when ``s3.bucket`` is set, else ``storage_url``."""
    if settings.s3.bucket:
        from rastercat.store.s3 import S3ObjectStore

        return S3ObjectStore(settings.s3)
    return open_object_store(settings.resolved_storage_url)

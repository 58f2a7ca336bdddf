"""What the start-up recovery of the embedded server reads and writes in the database.

Only a single embedded server (local queue, its own workers) recovers at start-up: no other
process can be receiving uploads or running jobs then.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from rastercat.store.sql import tables as t
from rastercat.store.sql.repo import Repo


def release_cut_off_puts(repo: Repo) -> None:
    """PUTs cut off by the restart: give their uploads back, so their URLs work again."""
    with repo.tx() as conn:
        conn.execute(
            sa.update(t.uploads)
            .where(t.uploads.c.status == "UPLOADING", t.uploads.c.lease_until.is_not(None))
            .values(file_key=None, lease_until=None)
        )


@dataclass(frozen=True)
class StoredReferences:
    """The stored files the records point to, read in one transaction."""

    images: frozenset[str]
    """Storage keys of images."""
    upload_status: dict[str, str]
    """Status of every upload, by uid."""
    upload_files: frozenset[str]
    """Keys of the raw files of uploads."""


def stored_references(repo: Repo) -> StoredReferences:
    with repo.tx() as conn:
        images = {r[0] for r in conn.execute(sa.select(t.images.c.storage_key)) if r[0]}
        live = {r[0]: r[1] for r in conn.execute(sa.select(t.uploads.c.uid, t.uploads.c.status))}
        raw = {r[0] for r in conn.execute(sa.select(t.uploads.c.file_key)) if r[0]}
    return StoredReferences(frozenset(images), live, frozenset(raw))

"""Frozen domain values that cross the boundary between the catalog and its store.

Rows still travel as plain dicts where the catalog reads many of their columns (products, bands,
images, uploads); these are the values whose shape is fixed and cheap to name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACL_COLUMNS = ("owners", "readers", "writers")


@dataclass(frozen=True)
class Acl:
    """The three permission columns of a product, band or image (normalized principals)."""

    owners: list[str]
    readers: list[str]
    writers: list[str]

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Acl:
        """The ACL of a row (or of any mapping with the three columns)."""
        return cls(list(row["owners"]), list(row["readers"]), list(row["writers"]))

    @classmethod
    def inherited(cls, parent: Mapping[str, Any], given: Mapping[str, list[str]]) -> Acl:
        """A new child's ACL: its parent's, except the columns that were ``given``; a child
        always has an owner (an empty ``owners`` takes the parent's)."""
        return cls(
            owners=list(given.get("owners") or parent["owners"]),
            readers=list(given.get("readers", parent["readers"])),
            writers=list(given.get("writers", parent["writers"])),
        )

    def columns(self) -> dict[str, list[str]]:
        return {"owners": self.owners, "readers": self.readers, "writers": self.writers}


@dataclass(frozen=True)
class NewImage:
    """A validated new image: its key, the user's attributes and ACL; ``inferred`` attributes and
    ``storage`` columns (storage_key, band_names) come from ingest or registration, not users."""

    key: str
    attrs: dict[str, Any]
    acl: dict[str, list[str]]
    inferred: dict[str, Any] = field(default_factory=dict)
    storage: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeletionCounts:
    """What a product still holds when it is deleted."""

    bands: int
    images: int
    unfinished_uploads: int


__all__ = ["ACL_COLUMNS", "Acl", "DeletionCounts", "NewImage"]

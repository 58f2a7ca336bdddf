"""What the catalog's read side needs from a store, as protocols: the catalog depends on these,
:mod:`rastercat.store.sql` implements them. Arguments and results are plain values (ids, principal
names, parsed query values; dicts of rows, tuples, small frozen dataclasses)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

Fact = tuple[str, float | None, int, int]
"""What a summary needs of one image: product id, date (Unix seconds; None: none), bytes, pixels."""


class Reader(Protocol):
    """The caller as the SQL form of the read rule sees it: the names it answers to in ACLs."""

    @property
    def principals(self) -> frozenset[str]: ...

    @property
    def is_admin(self) -> bool: ...


__all__ = ["Fact", "Iterator", "Reader"]

"""A STAC item search as the catalog receives it: parsed and checked by
:mod:`rastercat.protocol.stac.requests`, run by :mod:`rastercat.catalog.stac_search`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DATE_SORT = "acquired"


@dataclass(frozen=True)
class SortKey:
    field: str
    """``acquired``, ``id``, ``product_id`` or an image property."""
    desc: bool = False


@dataclass(frozen=True)
class ItemQuery:
    """A STAC item search, parsed and checked (see :mod:`rastercat.protocol.stac.requests`)."""

    limit: int
    collections: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    geom: Any = None
    """A shapely geometry in lon/lat (from ``bbox`` or ``intersects``)."""
    start: datetime | None = None
    end: datetime | None = None
    filter: Any = None
    """The CQL2 filter as CQL2-JSON (text filters are converted by ``cql2`` when parsed)."""
    sort: SortKey | None = None
    token: str | None = None
    identity: dict[str, Any] = field(default_factory=dict)
    """What the query asked for, as JSON: a page token is valid only for the same query."""

    def fingerprint(self) -> str:
        text = json.dumps(self.identity, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:16]

"""What the viewer lists beside the map: the caller's own latest uploads."""

from __future__ import annotations

from typing import Any

from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.principal import Principal
from rastercat.errors import InvalidInput
from rastercat.protocol.dl017.uploads import upload_doc
from rastercat.store.read_ports import ViewerReads
from rastercat.store.sql.viewer import SqlViewerReads


def recent_uploads(
    metadata: MetadataService, p: Principal, limit: int = 20, reads: ViewerReads | None = None
) -> list[dict[str, Any]]:
    """The caller's own latest uploads, newest first, as upload documents plus their product."""
    if not 1 <= limit <= 200:
        raise InvalidInput("'limit' must be from 1 to 200", field="limit")
    # Only uploads into products the caller can still read (and that still exist).
    readable = metadata.readable_uids(p)
    if reads is None:
        reads = SqlViewerReads(metadata.repo)
    rows = reads.recent_uploads(p.user_pk, sorted(readable), limit)
    out = []
    for r in rows:
        doc = upload_doc(r)
        doc["attributes"]["product_id"] = r["product_id"]
        out.append(doc)
    return out

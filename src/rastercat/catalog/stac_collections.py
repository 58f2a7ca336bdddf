"""What STAC Collections are built from: readable products, their bands, the extent of their images
(computed by the database on each request from indexes, so it follows images as they come and go)
and the names of their extra properties (for queryables).

The extent covers every image of the product, also images the caller may not read one by one (a
product's readers may be narrowed per image). That is deliberate: the extent is a property of the
product, which the caller may read, as its image count is in the Metadata API's product summary;
it gives away a box and two dates that the product's owner published with it, never an image's id,
footprint or properties. Computing it per caller would also defeat the index seeks below."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.principal import Principal
from rastercat.store.read_ports import StacReads
from rastercat.store.sql.stac import SqlStacReads

EXTRA_KEYS_SAMPLE = 10_000
"""Queryables list the extra property names of a product's newest images, this many at most: a
scan of every image of a large product would make the queryables slow, while a filter works on any
property whether listed or not."""


BANDS_TTL = 5.0
"""Seconds a product's band rows are reused by item pages. Every page of items needs its products'
bands (``raster:bands``, ``eo:bands``); reading them was one more database transaction per page,
about a sixth of a search. Bands change rarely and never change which items match: at worst an
item shows a band edit this many seconds late."""


class BandCache:
    """Band rows by product uid, kept :data:`BANDS_TTL` seconds (one per server process)."""

    def __init__(self, ttl: float = BANDS_TTL) -> None:
        self.ttl = ttl
        self._rows: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def get(self, uid: str) -> list[dict[str, Any]] | None:
        hit = self._rows.get(uid)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        until = time.monotonic() + self.ttl
        with self._lock:
            if len(self._rows) > 10_000:  # many products: forget them all rather than grow
                self._rows.clear()
            self._rows.update({uid: (until, bands) for uid, bands in rows.items()})


class StacCollections:
    def __init__(
        self,
        metadata: MetadataService,
        band_cache: BandCache | None = None,
        reads: StacReads | None = None,
    ) -> None:
        self.metadata = metadata
        self.band_cache = band_cache
        self.reads: StacReads = reads if reads is not None else SqlStacReads(metadata.repo)

    def products(self, p: Principal) -> list[dict[str, Any]]:
        return self.metadata.readable_products(p)

    def product(self, p: Principal, pid: str) -> dict[str, Any]:
        """The product, or NotFound when it does not exist or the caller may not read it."""
        return self.metadata.get_product(p, pid)

    def bands(
        self, products: list[dict[str, Any]], cached: bool = False
    ) -> dict[str, list[dict[str, Any]]]:
        """Bands of each product (by product uid), in creation order; ``cached``: may come from
        the band cache (item pages), otherwise read now (Collection documents)."""
        cache = self.band_cache if cached else None
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        uids = [r["uid"] for r in products]
        if cache is not None:
            for uid in list(uids):
                if (hit := cache.get(uid)) is not None:
                    out[uid] = hit
                    uids.remove(uid)
        if not uids:
            return out
        found: dict[str, list[dict[str, Any]]] = {uid: [] for uid in uids}
        for b in self.metadata.reads.bands_of(uids):
            found[b["product_uid"]].append(b)
        if self.band_cache is not None:
            self.band_cache.put(found)  # fresh rows serve the next pages too
        out.update(found)
        return out

    def extents(self, products: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Bounding box and first/last acquisition time of each product's images (by uid)."""
        out: dict[str, dict[str, Any]] = {}
        for uid, extent in self.reads.extents([r["uid"] for r in products]).items():
            minx, miny, maxx, maxy, first, last = extent
            box = None if minx is None else [minx, miny, maxx, maxy]
            out[uid] = {"bbox": box, "start": first, "end": last}
        return out

    def extra_property_types(self, products: list[dict[str, Any]]) -> dict[str, str]:
        """Extra property names of the products' (newest) images and their JSON Schema type."""
        types: dict[str, str] = {}
        uids = [product["uid"] for product in products]
        for key, kind in self.reads.extra_property_kinds(uids, EXTRA_KEYS_SAMPLE):
            json_kind = "string" if kind in ("text", "string") else "number"
            types.setdefault(key, json_kind)
        return types

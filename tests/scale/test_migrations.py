"""The same data set upgraded from the first schema to the latest, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from rastercat.store.sql.engine import make_engine, migrate
from rastercat.store.sql.repo import Repo, t

NOW = datetime(2018, 6, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    # A database without PostGIS: the migration itself must create the extension.
    return request.getfixturevalue("pg_databases").create(postgis=False)


def seed_first_schema(engine: sa.Engine) -> None:
    """Rows as a catalog on revision 0001 held them (written with plain SQL of that schema)."""
    acl = {"owners": '["user:a"]', "readers": "[]", "writers": "[]"}
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO products (id, uid, namespace, attrs, owners, readers, writers, created,"
                " modified) VALUES ('p', 'u1', 'ns', '{}', :owners, :readers, :writers, :now, :now)"
            ),
            {**acl, "now": NOW},
        )
        for i, (x, when) in enumerate([(0.0, 100.0), (10.0, 200.0), (None, 300.0)]):
            bbox = {"minx": x, "miny": x, "maxx": None if x is None else x + 1,
                    "maxy": None if x is None else x + 1}  # fmt: skip
            conn.execute(
                sa.text(
                    "INSERT INTO images (id, product_uid, product_id, key, attrs, owners, readers,"
                    " writers, acquired, minx, miny, maxx, maxy, created, modified) VALUES (:id,"
                    " 'u1', 'p', :key, '{}', :owners, :readers, :writers, :when, :minx, :miny,"
                    " :maxx, :maxy, :now, :now)"
                ),
                {**acl, **bbox, "id": f"p:i{i}", "key": f"i{i}", "when": when, "now": NOW},
            )
            if engine.dialect.name == "sqlite" and x is not None:
                conn.exec_driver_sql(
                    "INSERT INTO images_rtree VALUES (?,?,?,?,?,?,?)",
                    (i + 1, x, x + 1, x, x + 1, when, when),
                )


def index_names(engine: sa.Engine, table: str) -> set[str]:
    return {ix["name"] for ix in sa.inspect(engine).get_indexes(table) if ix["name"]}


def test_upgrade_first_to_latest_keeps_data_and_indexes_it(url: str) -> None:
    engine = make_engine(url)
    migrate(engine, "0001")
    seed_first_schema(engine)
    migrate(engine)
    repo = Repo(engine)

    assert repo.count(t.images) == 3
    assert repo.one(t.products, uid="u1")["owners"] == ["user:a"]  # type: ignore[index]
    assert "ix_images_acquired" in index_names(engine, "images")
    keys = {
        r["key"] for r in repo.all(t.images, repo.spatial_clause((0.2, 0.2, 0.4, 0.4), None, None))
    }
    assert keys == {"i0"}
    keys = {r["key"] for r in repo.all(t.images, repo.spatial_clause((-1, -1, 20, 20), 150.0, None),
                                       t.images.c.acquired >= 150.0)}  # fmt: skip
    assert keys == {"i1"}
    # The index alone, with no date clause beside it: its time axis was rebuilt in days (0003).
    keys = {
        r["key"] for r in repo.all(t.images, repo.spatial_clause((-1, -1, 20, 20), 150.0, 250.0))
    }
    assert keys == ({"i1"} if repo.has_rtree else {"i0", "i1"})
    if engine.dialect.name == "postgresql":
        assert "ix_images_footprint_time" in index_names(engine, "images")  # 0004
        assert "ix_images_bbox" not in index_names(engine, "images")
    migrate(engine)  # a second start finds nothing to do
    engine.dispose()


def test_fresh_and_upgraded_schemas_are_the_same(url: str, tmp_path: Path) -> None:
    upgraded = make_engine(url)
    migrate(upgraded, "0001")
    migrate(upgraded)
    if upgraded.dialect.name == "sqlite":
        fresh = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    else:
        pytest.importorskip("psycopg")
        fresh = upgraded  # one revision path on PostgreSQL: compare against tables.py below
    migrate(fresh)
    for name in t.metadata.tables:
        cols_up = {c["name"] for c in sa.inspect(upgraded).get_columns(name)}
        cols_fresh = {c["name"] for c in sa.inspect(fresh).get_columns(name)}
        assert cols_up == cols_fresh
        # Every column the queries know exists (PostgreSQL adds only the PostGIS footprint).
        assert {c.name for c in t.metadata.tables[name].columns} <= cols_up
        assert index_names(upgraded, name) == index_names(fresh, name)


def test_downgrade_to_the_first_schema(url: str) -> None:
    engine = make_engine(url)
    migrate(engine)
    from alembic import command
    from alembic.config import Config

    from rastercat.store.sql.engine import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert "ix_images_acquired" not in index_names(engine, "images")
    assert "footprint" not in {c["name"] for c in sa.inspect(engine).get_columns("images")}
    migrate(engine)
    assert "ix_images_acquired" in index_names(engine, "images")
    engine.dispose()


def test_concurrent_starts_migrate_once(pg_databases: object) -> None:
    """Several API replicas and workers start at once against one new PostgreSQL database."""
    import threading

    url = pg_databases.create(postgis=False)  # type: ignore[attr-defined]
    errors: list[BaseException] = []

    def start() -> None:
        engine = make_engine(url)
        try:
            migrate(engine)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert errors == []
    assert "ix_images_footprint_time" in index_names(make_engine(url), "images")


def test_0004_indexes_footprint_and_time_together_on_postgres(url: str) -> None:
    engine = make_engine(url)
    migrate(engine, "0003")
    if engine.dialect.name != "postgresql":
        migrate(engine)  # nothing to do on SQLite: its R*Tree holds time already (0003)
        assert "ix_images_footprint_time" not in index_names(engine, "images")
        engine.dispose()
        return
    assert "ix_images_footprint_time" not in index_names(engine, "images")
    migrate(engine)
    assert "ix_images_footprint_time" in index_names(engine, "images")
    repo = Repo(engine)
    with repo.tx() as conn:
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_indexscan = off")  # as a bitmap scan of both columns
        stmt = sa.select(t.images.c.pk).where(
            repo.spatial_clause((0, 0, 1, 1), 100.0, 200.0),
            t.images.c.acquired >= 100.0,
            t.images.c.acquired <= 200.0,
        )
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "ix_images_footprint_time" in plan, plan
    from alembic import command
    from alembic.config import Config

    from rastercat.store.sql.engine import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert "ix_images_footprint" in index_names(engine, "images")
    assert "ix_images_footprint_time" not in index_names(engine, "images")
    engine.dispose()

"""One way to write an image: ``add_image``, bulk records, the ingest job's finalizer and the tests'
seeding helper give rows of the same shape (id, inherited permissions, searchable columns, spatial index entry) for the same
input, on SQLite and on PostgreSQL + PostGIS."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from helpers import insert_images, migrated_repo
from rastercat.catalog.bulk import BulkImages
from rastercat.catalog.service import CatalogService
from rastercat.catalog.users import UserService, principal_of
from rastercat.config import Settings
from rastercat.ingest.jobs import JobRunner
from rastercat.store.sql.repo import Repo, t

GEOMETRY = {"type": "Polygon", "coordinates": [[[1, 2], [3, 2], [3, 4], [1, 4], [1, 2]]]}
ACQUIRED = "2021-05-06T07:08:09+00:00"
# Columns that differ between the three images by design: identity and time of writing.
PER_IMAGE = {"pk", "id", "key", "created", "modified"}


@pytest.fixture(params=["sqlite", "postgresql"])
def repo(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repo]:
    repo = migrated_repo(request, tmp_path)
    yield repo
    repo.engine.dispose()


def finalize(
    repo: Repo, settings: Settings, owner_pk: int, product: dict[str, Any], key: str
) -> None:
    """The ingest job's last step, for a job whose pipeline gave no pixel facts beyond ``attrs``."""
    now = datetime.now(UTC)
    job = {
        "uid": uuid.uuid4().hex, "product_uid": product["uid"], "product_id": product["id"],
        "upload_id": f"{key}.tif", "image_key": key, "group_key": None, "owner_pk": owner_pk,
        "status": "RUNNING", "attempts": 1, "log": "", "file_key": None, "created": now,
        "updated": now, "params": {"metadata": {"acquired": ACQUIRED, "cloud_fraction": 0.5}},
    }  # fmt: skip
    with repo.tx() as conn:
        job["pk"] = repo.insert(t.uploads, job, conn)
    result = {
        "attributes": {"geometry": GEOMETRY, "cog_md5": "m"},
        "band_names": ["red"],
        "product": product,
        "members": [job],
    }
    JobRunner(repo, None, settings)._finalize(job, result, "k.tif", lambda _: None, 0.0, [])  # type: ignore[arg-type]


def index_entry(repo: Repo, pk: int) -> Any:
    with repo.read() as conn:
        if repo.dialect == "postgresql":
            return conn.execute(
                sa.text("SELECT encode(ST_AsEWKB(footprint), 'hex') FROM images WHERE pk = :pk"),
                {"pk": pk},
            ).scalar_one()
        return tuple(
            conn.execute(
                sa.text(
                    "SELECT minx, maxx, miny, maxy, mint, maxt FROM images_rtree WHERE pk = :pk"
                ),
                {"pk": pk},
            ).one()
        )


def test_service_bulk_and_finalizer_write_the_same_row(repo: Repo, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    users = UserService(repo, b"s" * 32)
    user = users.add_user(f"u{uuid.uuid4().hex[:8]}", groups=("team",))
    with repo.read() as conn:
        p = principal_of(conn, repo.one(t.users, conn, pk=user["pk"]))
    catalog = CatalogService(repo, settings)
    product = catalog.create_product(
        p, {"id": f"rows-{uuid.uuid4().hex[:8]}", "title": "T", "description": "D",
            "read": ["group:team"]},
    )  # fmt: skip
    pid = product["id"]
    body = {"acquired": ACQUIRED, "geometry": GEOMETRY, "cloud_fraction": 0.5}
    catalog.create_image(p, pid, {"id": "single", **body})
    BulkImages(catalog).add(p, pid, [{"id": "bulk", **body}])
    finalize(repo, settings, user["pk"], product, "job")
    insert_images(repo, product, {"helper": body})  # the tests' seeding helper

    rows = {r["key"]: r for r in repo.all(t.images, t.images.c.product_id == pid)}
    assert set(rows) == {"single", "bulk", "job", "helper"}
    for key, row in rows.items():
        assert row["id"] == f"{pid}:{key}"
        assert row["product_uid"] == product["uid"]
        assert (row["owners"], row["readers"], row["writers"]) == (
            product["owners"], product["readers"], product["writers"],
        )  # fmt: skip
        assert row["acquired"] == datetime.fromisoformat(ACQUIRED).timestamp()
        assert (row["minx"], row["miny"], row["maxx"], row["maxy"]) == (1, 2, 3, 4)
        assert row["created"] == row["modified"]
    shape = {k: v for k, v in rows["single"].items() if k not in PER_IMAGE}
    assert {k: v for k, v in rows["bulk"].items() if k not in PER_IMAGE} == shape
    assert {k: v for k, v in rows["helper"].items() if k not in PER_IMAGE} == shape
    # The finalizer adds what ingest knows (storage, pixel facts); the columns are the same.
    assert rows["job"].keys() == rows["single"].keys()
    assert rows["job"]["storage_key"] == "k.tif" and rows["job"]["band_names"] == ["red"]
    entries = {key: index_entry(repo, row["pk"]) for key, row in rows.items()}
    assert entries["single"] == entries["bulk"] == entries["job"] == entries["helper"]
    assert entries["single"] is not None
    if repo.dialect == "postgresql":  # bulk rows arrive by COPY: the stored JSON text is the same
        json_text = "SELECT attrs::text, owners::text, readers::text, writers::text, band_names::text FROM images WHERE pk = :pk"
        with repo.read() as conn:
            texts = [
                tuple(conn.execute(sa.text(json_text), {"pk": rows[k]["pk"]}).one())
                for k in ("single", "bulk")
            ]
        assert texts[0] == texts[1]


def test_a_batch_written_at_once_fails_like_single_inserts(repo: Repo, tmp_path: Path) -> None:
    """The batch path (COPY on PostgreSQL) raises the domain errors of an INSERT."""
    from rastercat.errors import Conflict, InvalidInput
    from rastercat.store.sql.images import Images, image_columns, new_image_row

    product = {"id": f"p-{uuid.uuid4().hex[:8]}", "uid": uuid.uuid4().hex, "owners": ["user:a"],
               "readers": [], "writers": []}  # fmt: skip
    now = datetime.now(UTC)
    row = new_image_row(product, "a", image_columns({"geometry": GEOMETRY}), {}, now)
    images = Images(repo)
    with repo.tx() as conn:
        images.create_many(conn, [row])
    with pytest.raises(Conflict) as single, repo.tx() as conn:
        repo.insert(t.images, row, conn)
    with pytest.raises(Conflict) as batch, repo.tx() as conn:
        images.create_many(conn, [new_image_row(product, "b", {}, {}, now), row])
    assert batch.value.message == single.value.message
    assert repo.count(t.images, t.images.c.product_uid == product["uid"]) == 1
    if repo.dialect == "postgresql":  # SQLite does not enforce VARCHAR lengths
        long = new_image_row({**product, "uid": "u" * 40}, "c", {}, {}, now)
        with pytest.raises(InvalidInput) as single, repo.tx() as conn:
            repo.insert(t.images, long, conn)
        with pytest.raises(InvalidInput) as batch, repo.tx() as conn:
            images.create_many(conn, [long])
        assert batch.value.message == single.value.message

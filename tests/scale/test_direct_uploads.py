"""Uploads straight to an S3 bucket through presigned URLs (the bytes never pass through the API),
noticed by polling clients and by the arrival sweep; pixels read back through ``/vsis3/``.

The server runs in this process on moto's S3, with in-process workers and an arrival sweep that
never fires on its own (``arrival_interval`` of an hour), so each test decides who notices what.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from helpers import wait_for, write_geotiff
from rastercat.catalog.arrivals import ArrivalCheck
from rastercat.config import IngestSettings, S3Settings, Settings
from rastercat.store.sql.repo import t

CAT = "/metadata/v1/catalog"
BAND = {"name": "b1", "srcband": 1, "dtype": "UInt16", "nbits": 16, "data_range": [0, 10000],
        "type": "spectral"}  # fmt: skip
SECRET = uuid.uuid4().hex


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> S3Settings:
    from rastercat.store.s3 import S3ObjectStore

    settings = S3Settings(bucket=f"rc-{uuid.uuid4().hex[:12]}", prefix="cat/",
                          endpoint_url=s3_endpoint, region="us-east-1",
                          access_key_id="testing", secret_access_key="testing")  # fmt: skip
    S3ObjectStore(settings).ensure_bucket()
    return settings


@pytest.fixture(scope="module")
def server(s3: S3Settings, root_conftest: Any,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:  # fmt: skip
    ingest = IngestSettings(workers=1, poll_interval=0.05, isolate=False, arrival_interval=3600)
    settings = Settings(data_dir=tmp_path_factory.mktemp("direct"), ingest=ingest, s3=s3,
                        secret=SECRET)  # fmt: skip
    live = root_conftest.LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture
def product(server: Any) -> str:
    c = server.client("alice")
    pid = f"direct-{uuid.uuid4().hex[:8]}"
    r = c.post(f"{CAT}/products", json={"id": pid, "title": "T", "description": "D"})
    assert r.status_code == 201, r.text
    pid = r.json()["data"]["id"]
    assert c.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201
    return str(pid)


def begin(server: Any, pid: str, name: str, controls: dict | None = None) -> str:
    r = server.client("alice").post(
        f"{CAT}/products/{pid}/images/upload/{name}",
        json={"process_controls": controls or {"upload_type": "file"}},
    )
    assert r.status_code == 200, r.text
    return r.text


def put(url: str, data: bytes) -> None:
    r = httpx.put(url, content=data, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text


def row_of(server: Any, pid: str, name: str) -> dict[str, Any]:
    row = server.state.repo.one(t.uploads, product_id=pid, upload_id=name)
    assert row is not None
    return row


def tif(tmp_path: Path, name: str, value: int = 7) -> bytes:
    path = write_geotiff(tmp_path / name, np.full((1, 32, 32), value, dtype="uint16"))
    return path.read_bytes()


def test_the_upload_url_is_presigned_to_the_bucket(server: Any, s3: S3Settings,
                                                   product: str) -> None:  # fmt: skip
    url = begin(server, product, "a.tif")
    assert url.startswith(f"{s3.endpoint_url}/{s3.bucket}/cat/uploads/")
    assert "X-Amz-Signature=" in url and "\n" not in url
    row = row_of(server, product, "a.tif")
    assert row["status"] == "UPLOADING" and row["file_key"] == f"uploads/{row['uid']}/a.tif"


def test_a_polling_client_makes_its_upload_go_on(server: Any, product: str, tmp_path: Path) -> None:
    put(begin(server, product, "poll.tif"), tif(tmp_path, "poll.tif", 42))
    c = server.client("alice")
    r = c.get(f"{CAT}/products/{product}/uploads/poll.tif")
    assert r.status_code == 200
    assert r.json()["data"]["attributes"]["status"] in ("PENDING", "RUNNING", "SUCCESS")
    wait_for(lambda: row_of(server, product, "poll.tif")["status"] == "SUCCESS", 30,
             what="the direct upload to be ingested")  # fmt: skip
    # The pixels are read from the bucket through /vsis3/.
    r = c.post("/raster/v1/npz", json={"ids": [f"{product}:poll"], "bands": ["b1"]})
    assert r.status_code == 200, r.text
    data = np.load(io.BytesIO(r.content))
    assert int(np.asarray(data[data.files[0]]).max()) == 42
    assert not server.state.objects.exists(row_of(server, product, "poll.tif")["file_key"])


def test_the_results_listing_notices_arrivals_too(server: Any, product: str,
                                                  tmp_path: Path) -> None:  # fmt: skip
    put(begin(server, product, "list.tif"), tif(tmp_path, "list.tif"))
    begin(server, product, "never.tif")  # a URL nobody uses
    r = server.client("alice").post(f"{CAT}/products/{product}/uploads", json={"limit": 10})
    got = {d["id"]: d["attributes"]["status"] for d in r.json()["data"]}
    assert got["never.tif"] == "UPLOADING"
    assert got["list.tif"] in ("PENDING", "RUNNING", "SUCCESS")


def test_the_arrival_sweep_notices_uploads_nobody_polls(server: Any, product: str,
                                                        tmp_path: Path) -> None:  # fmt: skip
    uploads = server.state.uploads
    begin(server, product, "idle.tif")
    put(begin(server, product, "swept.tif"), tif(tmp_path, "swept.tif"))
    assert uploads.arrivals.sweep() >= 1
    assert row_of(server, product, "idle.tif")["status"] == "UPLOADING"
    wait_for(lambda: row_of(server, product, "swept.tif")["status"] == "SUCCESS", 30,
             what="the swept upload to be ingested")  # fmt: skip
    assert uploads.arrivals.sweep() == 0  # nothing moves twice


def test_a_second_put_to_a_used_url_is_swept_away(server: Any, product: str,
                                                  tmp_path: Path) -> None:  # fmt: skip
    """A presigned S3 URL takes PUTs until it expires, also after its job finished: what such a
    PUT stores is removed by the maintenance sweep, and the image keeps its pixels."""
    url = begin(server, product, "twice.tif")
    put(url, tif(tmp_path, "twice.tif", 11))
    c = server.client("alice")
    r = c.get(f"{CAT}/products/{product}/uploads/twice.tif", params={"wait": 30})
    assert r.json()["data"]["attributes"]["status"] == "SUCCESS"
    objects = server.state.objects
    key = row_of(server, product, "twice.tif")["file_key"]
    assert not objects.exists(key)
    put(url, tif(tmp_path, "again.tif", 99))  # S3 accepts it (200): the signature is still valid
    server.state.maintenance.maintenance.sweep_stray_uploads()
    assert not objects.exists(key)
    assert row_of(server, product, "twice.tif")["status"] == "SUCCESS"
    r = c.post("/raster/v1/npz", json={"ids": [f"{product}:twice"], "bands": ["b1"]})
    data = np.load(io.BytesIO(r.content))
    assert int(np.asarray(data[data.files[0]]).max()) == 11


def test_a_direct_upload_over_the_size_limit_fails(server: Any, product: str,
                                                   tmp_path: Path) -> None:  # fmt: skip
    """A presigned PUT cannot be capped by the API: the size is checked on arrival instead."""
    put(begin(server, product, "big.tif"), tif(tmp_path, "big.tif"))
    objects = server.state.objects
    strict = ArrivalCheck(server.state.repo, objects, max_bytes=100)
    row = row_of(server, product, "big.tif")
    assert strict.check([row]) == 1
    failed = row_of(server, product, "big.tif")
    assert failed["status"] == "FAILURE" and failed["exception_name"] == "PayloadTooLarge"
    assert "the limit is 100 bytes" in failed["log"]
    assert not objects.exists(row["file_key"])


def test_an_empty_direct_upload_fails(server: Any, product: str) -> None:
    put(begin(server, product, "empty.tif"), b"")
    assert server.state.uploads.arrivals.sweep() >= 1
    row = row_of(server, product, "empty.tif")
    assert row["status"] == "FAILURE" and "empty" in row["log"]


def test_a_multi_file_scene_waits_for_its_last_file(server: Any, product: str,
                                                    tmp_path: Path) -> None:  # fmt: skip
    controls = {"upload_type": "file",
                "multi_file": {"image_files": ["m1.tif", "m2.tif"], "image_id": "multi"}}  # fmt: skip
    first, second = (
        begin(server, product, "m1.tif", controls),
        begin(server, product, "m2.tif", controls),
    )
    arrivals = server.state.uploads.arrivals
    put(first, tif(tmp_path, "m1.tif"))
    arrivals.sweep()
    assert row_of(server, product, "m1.tif")["status"] == "WAITING"
    assert row_of(server, product, "m2.tif")["status"] == "UPLOADING"
    put(second, tif(tmp_path, "m2.tif"))
    arrivals.sweep()
    wait_for(lambda: row_of(server, product, "m2.tif")["status"] == "SUCCESS", 30,
             what="the multi-file scene to be ingested")  # fmt: skip
    assert row_of(server, product, "m1.tif")["status"] == "SUCCESS"
    assert server.state.repo.count(t.images, t.images.c.product_id == product) == 1


def test_the_shared_secret_replaces_the_key_file(server: Any, tmp_path: Path) -> None:
    """A replica (or an admin machine) with RASTERCAT_SECRET mints tokens every replica accepts,
    with no secret.key file on any disk."""
    from rastercat.api.state import AppState

    assert not (server.settings.data_dir / "secret.key").exists()
    other = AppState.open(Settings(data_dir=tmp_path / "admin", secret=SECRET,
                                   database_url=server.settings.resolved_database_url))  # fmt: skip
    try:
        other.users.ensure_user("carol")
        token = other.users.mint_token("carol")
    finally:
        other.close()
    assert not (tmp_path / "admin" / "secret.key").exists()
    r = httpx.get(f"{server.url}/whoami", headers={"Authorization": token})
    assert r.status_code == 200, r.text

"""Resumable uploads on S3 storage (moto's server mode on 127.0.0.1): a real S3 multipart upload,
parts sent straight to the bucket through presigned URLs, and abandoned ones aborted by
maintenance."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
import sqlalchemy as sa
from _resumable_helpers import CAT, geotiff_of, make_product, root_conftest

from rastercat.client.catalog import Catalog
from rastercat.config import IngestSettings, S3Settings, Settings, UploadClientSettings
from rastercat.store.sql.repo import t

PART = 5 * 2**20  # S3's smallest part


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> S3Settings:
    from rastercat.store.s3 import S3ObjectStore

    settings = S3Settings(bucket=f"rc-{uuid.uuid4().hex[:12]}", prefix="cat/",
                          endpoint_url=s3_endpoint, region="us-east-1",
                          access_key_id="testing", secret_access_key="testing")  # fmt: skip
    S3ObjectStore(settings).ensure_bucket()
    return settings


@pytest.fixture(scope="module")
def server(s3: S3Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    ingest = IngestSettings(workers=1, poll_interval=0.05, isolate=False, arrival_interval=3600)
    settings = Settings(data_dir=tmp_path_factory.mktemp("s3mp"), ingest=ingest, s3=s3,
                        secret=uuid.uuid4().hex)  # fmt: skip
    live = root_conftest().LiveServer(settings).start()
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def tif(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return geotiff_of(tmp_path_factory.mktemp("s3tif") / "big.tif", 26)  # 6 parts of 5 MiB


def _multipart_uploads(server: Any) -> list[dict[str, Any]]:
    objects = server.state.objects
    answer = objects.client.list_multipart_uploads(Bucket=objects.bucket)
    return list(answer.get("Uploads", []))


def test_parts_go_straight_to_the_bucket(server: Any, s3: S3Settings, tif: Path,
                                         tmp_path: Path) -> None:  # fmt: skip
    pid = make_product(server)
    service = server.state.multipart
    # More parts than one ListParts request returns (here 2 per page; S3's own page is 1,000).
    service.parts.list_page_size = 2
    seen: list[str] = []

    def record(request: httpx.Request) -> None:
        if request.method == "PUT":
            seen.append(str(request.url))

    with (
        server.env(),
        Catalog() as catalog,
        httpx.Client(event_hooks={"request": [record]}) as transfer,
    ):
        from rastercat.client.resumable import ResumableUpload

        settings = UploadClientSettings(threshold_bytes=0, part_bytes=PART, parallel=3,
                                        state_dir=tmp_path / "state")  # fmt: skip
        upload = ResumableUpload(catalog, tif, pid, "big.tif",
                                 {"process_controls": {"upload_type": "file"}}, settings,
                                 transfer=transfer)  # fmt: skip
        assert upload.run() == "big.tif"
        doc = catalog.wait_for_upload(pid, "big.tif", timeout=120)
    count = -(-tif.stat().st_size // PART)
    assert count >= 5 and sorted(upload.sent) == list(range(1, count + 1))
    # Every part went to the S3 endpoint, none through the API.
    assert len(seen) == count and all(
        u.startswith(f"{s3.endpoint_url}/{s3.bucket}/cat/uploads/") for u in seen
    )
    assert "x-amz-checksum-sha256" in "".join(seen).lower() or all(
        "X-Amz-Signature" in u for u in seen
    )
    assert dict(service.received) == {}
    attrs = doc["data"]["attributes"]
    assert attrs["status"] == "SUCCESS"
    assert attrs["sha256"] == hashlib.sha256(tif.read_bytes()).hexdigest()
    image = server.state.repo.one(t.images, product_id=pid, key="big")
    objects = server.state.objects
    with objects.gdal_env(), rasterio.open(objects.gdal_path(image["storage_key"])) as stored, \
            rasterio.open(tif) as src:  # fmt: skip
        assert np.array_equal(stored.read(1), src.read(1))
    assert _multipart_uploads(server) == []
    assert list((tmp_path / "state").glob("*")) == []


def test_part_urls_are_signed_for_their_checksum(server: Any) -> None:
    pid = make_product(server)
    r = server.client("alice").post(
        f"{CAT}/products/{pid}/images/multipart/s.tif",
        json={"multipart": {"size": 2 * PART, "part_size": PART}},
    )
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["direct"] is True
    checksum = "A" * 43 + "="
    urls = httpx.post(f"{session['session_url']}/urls",
                      json={"parts": [{"part_number": 1, "checksum_sha256": checksum}]}).json()  # fmt: skip
    part = urls["parts"][0]
    assert "x-amz-checksum-sha256" in part["url"]  # among the signed headers
    assert part["headers"]["x-amz-checksum-sha256"] == checksum
    # The API takes no part bytes of an S3 upload; S3's smallest part is the floor.
    r = httpx.put(f"{session['session_url']}/parts/1", content=b"x",
                  headers={"x-amz-checksum-sha256": checksum})  # fmt: skip
    assert r.status_code == 409
    r = server.client("alice").post(
        f"{CAT}/products/{pid}/images/multipart/t.tif",
        json={"multipart": {"size": 2 * PART, "part_size": 2**20}},
    )
    assert r.status_code == 400 and "part_size" in r.text
    httpx.delete(session["session_url"])


def test_maintenance_aborts_abandoned_multipart_uploads(server: Any, tif: Path) -> None:
    pid = make_product(server)
    c = server.client("alice")
    r = c.post(f"{CAT}/products/{pid}/images/multipart/gone.tif",
               json={"multipart": {"size": 3 * PART, "part_size": PART}})  # fmt: skip
    session = r.json()
    data = tif.read_bytes()[:PART]
    import base64

    checksum = base64.b64encode(hashlib.sha256(data).digest()).decode()
    target = httpx.post(f"{session['session_url']}/urls",
                        json={"parts": [{"part_number": 1, "checksum_sha256": checksum}]}).json()["parts"][0]  # fmt: skip
    assert httpx.put(target["url"], content=data, headers=target["headers"]).status_code == 200
    held = httpx.get(session["session_url"]).json()["parts"]
    assert [p["part_number"] for p in held] == [1]
    # A multipart upload no upload row knows of (a crash between S3 and the database).
    objects = server.state.objects
    stray = objects.client.create_multipart_upload(Bucket=objects.bucket,
                                                   Key=f"cat/uploads/{uuid.uuid4().hex}/x.tif")  # fmt: skip
    repo = server.state.repo
    with repo.tx() as conn:  # the idle timeout has passed without a part or a heartbeat
        conn.execute(sa.update(t.uploads).where(t.uploads.c.uid == session["upload_uid"])
                     .values(lease_until=0.0))  # fmt: skip
    maintenance = server.state.maintenance.maintenance
    maintenance.expire_uploads()  # (the maintenance thread may run these too, at any time)
    server.state.multipart.sweep_abandoned()
    keys = {u["UploadId"] for u in _multipart_uploads(server)}
    assert stray["UploadId"] not in keys and len(keys) == 0
    assert repo.one(t.uploads, uid=session["upload_uid"])["status"] == "FAILURE"


def test_an_upload_s3_assembled_before_a_crash_is_recorded(server: Any, tif: Path) -> None:
    """The API stopped between S3's CompleteMultipartUpload and recording it: completing again
    records it (S3 no longer knows the multipart upload; its object is whole in the bucket)."""
    import base64

    pid = make_product(server)
    data = tif.read_bytes()[: PART + 1000]
    r = server.client("alice").post(f"{CAT}/products/{pid}/images/multipart/crash.tif",
                                    json={"multipart": {"size": len(data), "part_size": PART}})  # fmt: skip
    session = r.json()
    for n, chunk in ((1, data[:PART]), (2, data[PART:])):
        checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        target = httpx.post(f"{session['session_url']}/urls",
                            json={"parts": [{"part_number": n, "checksum_sha256": checksum}]}).json()["parts"][0]  # fmt: skip
        assert httpx.put(target["url"], content=chunk, headers=target["headers"]).status_code == 200
    row = server.state.repo.one(t.uploads, uid=session["upload_uid"])
    mp = row["params"]["multipart"]
    service = server.state.multipart
    service.parts.complete(mp["key"], mp["session"], service.listed(row))  # S3 assembles it...
    held = httpx.get(session["session_url"]).json()  # ...and the API never recorded it
    assert [p["part_number"] for p in held["parts"]] == [1, 2]
    r = httpx.post(
        f"{session['session_url']}/complete", json={"sha256": hashlib.sha256(data).hexdigest()}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "PENDING"


def _send_parts(server: Any, pid: str, name: str, data: bytes) -> dict[str, Any]:
    """A resumable upload session of ``data`` whose parts went straight to the bucket."""
    import base64

    r = server.client("alice").post(f"{CAT}/products/{pid}/images/multipart/{name}",
                                    json={"multipart": {"size": len(data), "part_size": PART}})  # fmt: skip
    assert r.status_code == 201, r.text
    session = r.json()
    for n, start in enumerate(range(0, len(data), PART), start=1):
        chunk = data[start : start + PART]
        checksum = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        target = httpx.post(f"{session['session_url']}/urls",
                            json={"parts": [{"part_number": n, "checksum_sha256": checksum}]}).json()["parts"][0]  # fmt: skip
        assert httpx.put(target["url"], content=chunk, headers=target["headers"]).status_code == 200
    return session


def _finished(server: Any, pid: str, name: str) -> dict[str, Any]:
    """The upload's result once its job is done (the server holds each request up to 60 s)."""
    import time

    deadline = time.monotonic() + 180
    while True:
        r = server.client("alice").get(f"{CAT}/products/{pid}/uploads/{name}", params={"wait": 60})
        assert r.status_code == 200, r.text
        attrs = r.json()["data"]["attributes"]
        if attrs["status"] in ("SUCCESS", "FAILURE"):
            return attrs
        assert time.monotonic() < deadline, attrs


def test_the_whole_file_checksum_is_checked_by_the_server(server: Any, tif: Path) -> None:
    """S3 assembles the parts, so the API never sees the whole file: the ingest job hashes the
    object it fetched and compares it with the SHA-256 the client declared. A file whose stored
    bytes are not the ones declared fails, naming both digests; the right one succeeds and says
    it was checked."""
    pid = make_product(server)
    data = tif.read_bytes()
    declared = hashlib.sha256(data).hexdigest()

    good = _send_parts(server, pid, "good.tif", data)
    r = httpx.post(f"{good['session_url']}/complete", json={"sha256": declared})
    assert r.status_code == 200, r.text
    attrs = _finished(server, pid, "good.tif")
    assert attrs["status"] == "SUCCESS" and attrs["sha256"] == declared
    assert "SHA-256 of the uploaded file checked" in attrs["logs"]

    # The parts of another file, declared as this one (S3 checked each part, not the whole).
    other = _send_parts(server, pid, "bad.tif", data[:-1] + bytes([data[-1] ^ 0xFF]))
    r = httpx.post(f"{other['session_url']}/complete", json={"sha256": declared})
    assert r.status_code == 200, r.text  # S3 cannot tell; the job does
    attrs = _finished(server, pid, "bad.tif")
    assert attrs["status"] == "FAILURE" and attrs["failure_type"] == "checksum"
    assert declared in attrs["logs"] and "not the ones sent" in attrs["logs"]
    assert server.state.repo.one(t.images, product_id=pid, key="bad") is None

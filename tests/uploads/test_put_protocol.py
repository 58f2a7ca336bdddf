"""Step 2 of the upload protocol: the signed URL is the only credential, single-use, expiring,
and the body is size-capped while it streams."""

from __future__ import annotations

import threading

import httpx
import numpy as np
import pytest
from _upload_helpers import CAT, Uploader, assert_no_stray_files

from helpers import write_geotiff
from rastercat.config import Limits


def tif_bytes(tmp_path, name: str = "blue.tif", side: int = 16) -> bytes:
    arr = np.arange(side * side, dtype="uint16").reshape(side, side)
    return write_geotiff(tmp_path / name, arr).read_bytes()


def test_url_is_plain_text_and_the_put_needs_no_token(up, clean, tmp_path):
    pid = up.product()
    r = up.client.post(
        f"{CAT}/products/{pid}/images/upload/blue.tif",
        json={"process_controls": {"upload_type": "file"}},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    url = r.text
    assert url.startswith(up.server.url + "/uploads/") and url == url.strip()
    put = up.put(url, tif_bytes(tmp_path), headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 200, put.text
    assert up.wait(pid, "blue.tif")["status"] == "SUCCESS"
    assert up.image(pid, "blue")["key"] == "blue"


def test_step_one_checks_the_product_and_the_caller(up, server):
    pid = up.product()
    body = {"process_controls": {"upload_type": "file"}}
    r = up.client.post(f"{CAT}/products/nope/images/upload/a.tif", json=body)
    assert r.status_code == 404
    with server.client("mallory") as other:
        r = other.post(f"{CAT}/products/{pid}/images/upload/a.tif", json=body)
        assert r.status_code == 404  # unreadable products do not exist for the caller
    r = httpx.post(f"{server.url}{CAT}/products/{pid}/images/upload/a.tif", json=body)
    assert r.status_code == 401


def test_url_reuse_is_409(up, clean, tmp_path):
    pid = up.product()
    url = up.begin(pid, "blue.tif")
    data = tif_bytes(tmp_path)
    assert up.put(url, data).status_code == 200
    again = up.put(url, data)
    assert again.status_code == 409
    assert "already been used" in again.text
    assert up.wait(pid, "blue.tif")["status"] == "SUCCESS"


def test_tampered_url_is_403(up, clean, tmp_path):
    pid = up.product()
    url = up.begin(pid, "blue.tif")
    head, _, sig = url.rpartition(".")
    tampered = head + "." + ("A" if sig[0] != "A" else "B") + sig[1:]
    r = up.put(tampered, tif_bytes(tmp_path))
    assert r.status_code == 403
    assert "not valid" in r.text
    # A token for another upload spliced in: the signature does not cover it.
    r = up.put(url.replace("/uploads/", "/uploads/x"), tif_bytes(tmp_path))
    assert r.status_code == 403
    assert up.result(pid, "blue.tif")["status"] == "UPLOADING"


def test_expired_url_is_403(server_factory, tmp_path):
    server = server_factory(upload_url_ttl=-1)  # URLs that expire before they are handed out
    up = Uploader(server)
    pid = up.product()
    url = up.begin(pid, "blue.tif")
    r = up.put(url, tif_bytes(tmp_path))
    assert r.status_code == 403
    assert "expired" in r.text
    assert up.image(pid, "blue") is None
    assert_no_stray_files(server)
    up.close()


@pytest.fixture
def small(server_factory):
    server = server_factory(limits=Limits(max_upload_bytes=10_000))
    up = Uploader(server)
    yield up
    up.close()
    assert_no_stray_files(server)


def test_content_length_above_the_limit_is_413(small, tmp_path):
    pid = small.product()
    url = small.begin(pid, "big.tif")
    r = small.put(url, b"\0" * 10_001)
    assert r.status_code == 413
    assert "limit is 10000 bytes" in r.text
    # Exactly the limit is accepted (and then fails as "not a raster", which is fine here).
    assert small.put(url, b"\0" * 10_000).status_code == 200
    assert small.wait(pid, "big.tif")["status"] == "FAILURE"


def test_chunked_body_above_the_limit_is_413(small):
    pid = small.product()
    url = small.begin(pid, "big.tif")
    sent = []

    def body():
        for _ in range(40):  # 40 x 1 KiB, no Content-Length: the server counts as it streams
            sent.append(1)
            yield b"\1" * 1024

    try:
        r = small.put(url, body())
    except httpx.TransportError:
        pytest.fail("the server should answer 413, not drop the connection")
    assert r.status_code == 413
    assert "larger than the limit of 10000 bytes" in r.text
    # The URL is still usable for a body within the limit.
    assert small.result(pid, "big.tif")["status"] == "UPLOADING"
    assert small.put(url, b"\0" * 100).status_code == 200
    assert small.wait(pid, "big.tif")["status"] == "FAILURE"


def test_empty_body_is_400(up, clean):
    pid = up.product()
    url = up.begin(pid, "blue.tif")
    r = up.put(url, b"")
    assert r.status_code == 400
    assert up.result(pid, "blue.tif")["status"] == "UPLOADING"


def test_two_concurrent_puts_of_one_url(up, clean, tmp_path):
    pid = up.product()
    url = up.begin(pid, "blue.tif")
    data = tif_bytes(tmp_path, side=256)
    codes: list[int] = []
    barrier = threading.Barrier(2)

    def put() -> None:
        with httpx.Client(timeout=60) as c:
            barrier.wait()
            codes.append(c.put(url, content=data).status_code)

    threads = [threading.Thread(target=put) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(codes) == [200, 409]
    assert up.wait(pid, "blue.tif")["status"] == "SUCCESS"
    assert up.image(pid, "blue")["raster_size"] == [256, 256]

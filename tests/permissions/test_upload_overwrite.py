"""Uploads into existing images, and upload URLs after access changes: the access matrix of an
upload's image.

A writer of a product may upload new images and replace images they may change; an image they may
see but not change is a 403; an image they may not even see answers exactly as ``add_image`` of
that id does (409: the id is taken, nothing more is said). The URL is the uploader's credential: it
stops working when their access does (404 when they can no longer see the product, 403 when they
can no longer change it), and a job whose uploader lost access meanwhile fails with a clear log.
ACL fields sent with an upload apply to the image, with add_image/change_image's rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from _perm_world import CAT, World, add_band, create_product, upload_tif

from helpers import wait_for, write_geotiff
from rastercat.store.sql.repo import t

BODY = {"process_controls": {"upload_type": "file"}}


def tif(tmp: Path, name: str, value: int) -> Path:
    return write_geotiff(tmp / name, np.full((16, 16), value, dtype="uint16"))


def _image(client: httpx.Client, pid: str, key: str) -> httpx.Response:
    return client.get(f"{CAT}/products/{pid}/images/{key}")


def _begin(client: httpx.Client, pid: str, name: str, **extra: Any) -> httpx.Response:
    return client.post(f"{CAT}/products/{pid}/images/upload/{name}", json={**BODY, **extra})


def _pixel_md5(server: Any, pid: str, key: str) -> Any:
    image = server.state.repo.one(t.images, id=f"{pid}:{key}")
    return image["attrs"]["file_md5s"], image["storage_key"]


@pytest.fixture(scope="module")
def shared(world: World, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A product the writer may write, with three images the owner uploaded: ``secret`` (owner
    only), ``shown`` (the writer may read it, not change it) and ``open`` (the product's ACL)."""
    owner = world.clients["owner"]
    pid = create_product(owner, f"overwrite-{world.suffix}", **world.acl())
    add_band(owner, pid)
    tmp = tmp_path_factory.mktemp("overwrite")
    for key in ("secret", "shown", "open"):
        upload_tif(owner, pid, tif(tmp, f"{key}.tif", 7))
    writer_ns = world.namespace("writer")
    r = owner.patch(f"{CAT}/products/{pid}/images/secret", json={"read": [], "writers": []})
    assert r.status_code == 200, r.text
    r = owner.patch(
        f"{CAT}/products/{pid}/images/shown", json={"read": [f"user:{writer_ns}"], "writers": []}
    )
    assert r.status_code == 200, r.text
    return pid


def test_a_writer_cannot_replace_an_image_it_may_not_see(world: World, shared: str) -> None:
    writer = world.clients["writer"]
    before = _pixel_md5(world.server, shared, "secret")
    assert _image(writer, shared, "secret").status_code == 404
    r = _begin(writer, shared, "secret.tif")
    assert r.status_code == 409, r.text
    # Exactly what add_image of that id answers: the id is taken, and nothing more is said.
    add = writer.post(f"{CAT}/products/{shared}/images", json={"id": "secret"})
    assert add.status_code == 409
    assert r.json()["errors"][0]["detail"] == add.json()["errors"][0]["detail"]
    assert _pixel_md5(world.server, shared, "secret") == before
    # Nor through the multi-file image id.
    multi = {"multi_file": {"image_files": ["a.tif"], "image_id": "secret"}}
    r = writer.post(
        f"{CAT}/products/{shared}/images/upload/a.tif",
        json={"process_controls": {"upload_type": "file", **multi}},
    )
    assert r.status_code == 409, r.text


def test_a_writer_cannot_replace_an_image_it_may_only_read(world: World, shared: str) -> None:
    writer = world.clients["writer"]
    assert _image(writer, shared, "shown").status_code == 200
    r = _begin(writer, shared, "shown.tif")
    assert r.status_code == 403, r.text
    assert "shown" in r.json()["errors"][0]["detail"]


def test_a_writer_replaces_an_image_it_may_change(
    world: World, shared: str, tmp_path: Path
) -> None:
    writer = world.clients["writer"]
    before = _pixel_md5(world.server, shared, "open")
    upload_tif(writer, shared, tif(tmp_path, "open.tif", 99))
    assert _pixel_md5(world.server, shared, "open") != before
    # Replacing keeps the image's own ACL.
    doc = _image(world.clients["owner"], shared, "open").json()["data"]["attributes"]
    assert doc["writers"] == [f"user:{world.namespace('writer')}"]


@pytest.mark.parametrize("role", ["reader_user", "outsider"])
def test_others_cannot_upload_at_all(world: World, shared: str, role: str) -> None:
    r = _begin(world.clients[role], shared, "open.tif")
    assert r.status_code == (403 if role == "reader_user" else 404), r.text


def test_acl_fields_of_an_upload_need_ownership(world: World, shared: str) -> None:
    writer, owner = world.clients["writer"], world.clients["owner"]
    # A new image with its own ACL, as add_image: owners of the product only.
    assert _begin(writer, shared, "mine.tif", read=[]).status_code == 403
    # Changing an existing image's ACL, as change_image: owners of the image only.
    assert _begin(writer, shared, "open.tif", writers=[]).status_code == 403
    r = _begin(owner, shared, "typed.tif", read="everyone")
    assert r.status_code == 400 and r.json()["errors"][0]["source"]["pointer"] == "read"
    r = _begin(owner, shared, "typed.tif", owners=[""])
    assert r.status_code == 400 and r.json()["errors"][0]["source"]["pointer"] == "owners"


def test_acl_fields_sent_with_an_upload_apply_to_the_image(
    world: World, shared: str, tmp_path: Path
) -> None:
    """The 0.17 client's ``upload_image(..., read=[...], writers=[])`` sends them in step 1."""
    owner = world.clients["owner"]
    upload_tif(owner, shared, tif(tmp_path, "private.tif", 5), read=["some:group"], writers=[])
    doc = _image(owner, shared, "private").json()["data"]["attributes"]
    assert doc["read"] == ["group:some:group"] and doc["writers"] == []
    assert doc["owners"] == [f"user:{world.namespace('owner')}"]
    for role in ("writer", "reader_user", "reader_group"):
        assert _image(world.clients[role], shared, "private").status_code == 404, role
    # Replacing an image with ACL fields changes only those given (as change_image).
    upload_tif(owner, shared, tif(tmp_path, "private.tif", 6), read=[world.group])
    doc = _image(owner, shared, "private").json()["data"]["attributes"]
    assert doc["read"] == [f"group:{world.group}"] and doc["writers"] == []
    assert _image(world.clients["reader_group"], shared, "private").status_code == 200


# The URL after access changes --------------------------------------------------------------------
@pytest.fixture
def writable(world: World, unique: str) -> str:
    owner = world.clients["owner"]
    pid = create_product(owner, f"revoke-{unique}", **world.acl())
    add_band(owner, pid)
    return pid


def test_a_revoked_writers_url_stops_working(world: World, writable: str, tmp_path: Path) -> None:
    writer, owner = world.clients["writer"], world.clients["owner"]
    data = tif(tmp_path, "late.tif", 3).read_bytes()
    url = _begin(writer, writable, "late.tif").text
    url2 = _begin(writer, writable, "later.tif").text
    writer_ns = f"user:{world.namespace('writer')}"
    # Still a reader, no longer a writer: 403.
    r = owner.patch(f"{CAT}/products/{writable}", json={"writers": [], "read": [writer_ns]})
    assert r.status_code == 200, r.text
    put = httpx.put(url, content=data, timeout=60)
    assert put.status_code == 403, put.text
    # Not even a reader: 404.
    r = owner.patch(f"{CAT}/products/{writable}", json={"read": []})
    assert r.status_code == 200, r.text
    put = httpx.put(url2, content=data, timeout=60)
    assert put.status_code == 404, put.text
    assert _image(owner, writable, "late").status_code == 404


def test_an_image_hidden_after_step_one_is_not_replaced_by_the_put(
    world: World, writable: str, tmp_path: Path
) -> None:
    writer, owner = world.clients["writer"], world.clients["owner"]
    url = _begin(writer, writable, "race.tif").text
    r = owner.post(
        f"{CAT}/products/{writable}/images", json={"id": "race", "read": [], "writers": []}
    )
    assert r.status_code == 201, r.text
    put = httpx.put(url, content=tif(tmp_path, "race.tif", 9).read_bytes(), timeout=60)
    assert put.status_code == 409, put.text
    assert _image(owner, writable, "race").json()["data"]["attributes"].get("files") is None


# Finalize: access that changes while the job waits or runs ---------------------------------------
@pytest.fixture
def queued(server_factory: Any, tmp_path: Path) -> Any:
    """A server whose jobs wait until the test runs them, a product the writer may write, and a
    helper that uploads a file as the writer and leaves its job PENDING."""
    server = server_factory(start_workers=False)
    owner, writer = server.client("owner"), server.client("writer")
    writer_ns = server.state.users.get_user("writer")["namespace"]
    pid = create_product(owner, "queued", writers=[f"user:{writer_ns}"])
    add_band(owner, pid)

    def upload(name: str, value: int) -> None:
        r = _begin(writer, pid, name)
        assert r.status_code == 200, r.text
        put = httpx.put(r.text, content=tif(tmp_path, name, value).read_bytes(), timeout=60)
        assert put.status_code == 200, put.text

    def run() -> dict[str, Any]:
        runner = server.state.runner
        job = runner.claim()
        assert job is not None
        runner.run(job)
        r = owner.get(f"{CAT}/products/{pid}/uploads/{job['upload_id']}")
        return dict(r.json()["data"]["attributes"])

    yield server, owner, pid, upload, run
    owner.close()
    writer.close()


def test_finalize_does_not_replace_an_image_hidden_meanwhile(queued: Any) -> None:
    server, owner, pid, upload, run = queued
    upload("secret.tif", 99)
    r = owner.post(f"{CAT}/products/{pid}/images", json={"id": "secret", "read": [], "writers": []})
    assert r.status_code == 201, r.text
    doc = run()
    assert doc["status"] == "FAILURE"
    assert "image 'secret' already exists" in doc["logs"], doc["logs"]
    assert "replaced the pixels" not in doc["logs"]
    image = server.state.repo.one(t.images, id=f"{pid}:secret")
    assert image["storage_key"] is None  # still the owner's metadata-only image


def test_finalize_fails_when_the_uploader_lost_write_access(queued: Any) -> None:
    server, owner, pid, upload, run = queued
    upload("lost.tif", 4)
    r = owner.patch(f"{CAT}/products/{pid}", json={"writers": []})
    assert r.status_code == 200, r.text
    doc = run()
    assert doc["status"] == "FAILURE"
    assert "the image was not written" in doc["logs"] and "queued" in doc["logs"], doc["logs"]
    assert server.state.repo.one(t.images, id=f"{pid}:lost") is None
    wait_for(
        lambda: not list(server.state.objects.list("uploads")),
        timeout=10,
        what="the raw upload to be removed",
    )


def test_a_removed_or_revoked_uploaders_url_stops_working(
    server_factory: Any, tmp_path: Path
) -> None:
    server = server_factory(start_workers=False)
    users = server.state.users
    owner = server.client("owner")
    try:
        pid = create_product(owner, "gone")
        add_band(owner, pid)
        data = tif(tmp_path, "x.tif", 1).read_bytes()
        with server.client("temp") as temp:
            r = owner.patch(
                f"{CAT}/products/{pid}",
                json={"writers": [f"user:{users.get_user('temp')['namespace']}"]},
            )
            assert r.status_code == 200, r.text
            url = _begin(temp, pid, "y.tif").text
        users.remove_user("temp")
        put = httpx.put(url, content=data, timeout=60)
        assert put.status_code == 403 and "no longer exists" in put.text, put.text
        url = _begin(owner, pid, "x.tif").text
        users.revoke_tokens("owner")  # "sign me out everywhere" also ends pending upload URLs
        put = httpx.put(url, content=data, timeout=60)
        assert put.status_code == 403 and "revoked" in put.text, put.text
    finally:
        owner.close()

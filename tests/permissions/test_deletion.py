"""Deleting products (cascade, tasks, restarts, re-creation), bands and images; afterwards nothing
of a product is left in the database or in storage."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from _perm_world import (
    CAT,
    META,
    World,
    add_band,
    create_product,
    insert_images,
    tiny_tif,
    upload_tif,
)

from helpers import wait_for
from rastercat.catalog.maintenance import MAX_TASK_ERRORS, Maintenance
from rastercat.store.objects import LocalObjectStore
from rastercat.store.sql.repo import t


def _task_done(client: httpx.Client, task: str) -> dict[str, Any] | None:
    r = client.get(f"{CAT}/products/deletion_tasks/{task}")
    assert r.status_code == 200, r.text
    doc = r.json()
    return doc if doc["completed"] else None


def _leftovers(state: Any, uid: str, upload_uids: list[str]) -> dict[str, Any]:
    """Every row and file that still belongs to the product ``uid``."""
    repo, objects = state.repo, state.objects
    out: dict[str, Any] = {
        name: repo.count(table, table.c.product_uid == uid)
        for name, table in (
            ("images", t.images),
            ("bands", t.bands),
            ("uploads", t.uploads),
            ("permission_jobs", t.permission_jobs),
        )
    }
    out["products"] = repo.count(t.products, t.products.c.uid == uid)
    out["files"] = [k for k in objects.list() if uid in k or any(u in k for u in upload_uids)]
    with repo.tx() as conn:
        image_pks = {r[0] for r in conn.execute(sa.select(t.images.c.pk))}
        rtree = {r[0] for r in conn.exec_driver_sql("SELECT pk FROM images_rtree")}
    out["rtree_orphans"] = sorted(rtree - image_pks)
    return out


NOTHING = {"images": 0, "bands": 0, "uploads": 0, "permission_jobs": 0, "products": 0,
           "files": [], "rtree_orphans": []}  # fmt: skip


@pytest.fixture
def server(server_factory: Any) -> Any:
    """A server of this test's own: listing its storage shows only this test's files."""
    return server_factory()


def _owner(server: Any) -> httpx.Client:
    return server.client("owner")


def test_remove_product_without_cascade_is_409_when_not_empty(world: World, unique: str) -> None:
    owner = world.clients["owner"]
    pid = create_product(owner, f"nc-{unique}")
    add_band(owner, pid)
    r = owner.delete(f"{CAT}/products/{pid}", params={"cascade": "False"})
    assert r.status_code == 409
    assert "cascade=True" in r.json()["errors"][0]["detail"]
    assert owner.get(f"{CAT}/products/{pid}").status_code == 200


def test_an_unfinished_upload_also_needs_cascade(world: World, unique: str) -> None:
    owner = world.clients["owner"]
    pid = create_product(owner, f"nc-up-{unique}")
    assert owner.post(f"{CAT}/products/{pid}/images/upload/a.tif", json={}).status_code == 200
    r = owner.delete(f"{CAT}/products/{pid}", params={"cascade": "False"})
    assert r.status_code == 409 and "upload" in r.json()["errors"][0]["detail"]


def test_remove_empty_product_without_cascade(world: World, unique: str) -> None:
    owner = world.clients["owner"]
    pid = create_product(owner, f"empty-{unique}")
    r = owner.delete(f"{CAT}/products/{pid}", params={"cascade": "False"})
    assert r.status_code == 204 and r.headers["content-type"].startswith("text/plain")
    assert owner.get(f"{CAT}/products/{pid}").status_code == 404


def test_cascade_removes_everything_from_database_and_storage(server: Any, tmp_path: Path) -> None:
    owner = _owner(server)
    pid = create_product(owner, "full")
    add_band(owner, pid)
    add_band(owner, pid, name="red")
    upload_tif(owner, pid, tiny_tif(tmp_path, "one.tif"))
    upload_tif(owner, pid, tiny_tif(tmp_path, "two.tif"))
    assert owner.post(f"{CAT}/products/{pid}/images", json={"id": "meta"}).status_code == 201
    # An upload whose URL was handed out but never used, and a pending permission job.
    url = owner.post(f"{CAT}/products/{pid}/images/upload/late.tif", json={}).text
    owner.patch(f"{CAT}/products/{pid}", params={"set_global_permissions": "true"}, json={})
    state = server.state
    uid = state.repo.one(t.products, id=pid)["uid"]
    upload_uids = [u["uid"] for u in state.repo.all(t.uploads, t.uploads.c.product_uid == uid)]
    assert len(list(state.objects.list(f"products/{uid}"))) == 2

    r = owner.delete(f"{CAT}/products/{pid}", params={"cascade": "True"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    task = r.json()["deletion_task"]
    # The product is gone at once, its images too, whatever the task's progress.
    assert owner.get(f"{CAT}/products/{pid}").status_code == 404
    assert owner.get(f"{META}/get/{pid}:one").status_code == 404
    assert owner.post(f"{META}/search", json={"products": [pid]}).json() == []

    doc = wait_for(lambda: _task_done(owner, task), timeout=20, what="the deletion task")
    assert doc["status"] == "SUCCESS"
    assert doc["response"]["deleted"] == doc["response"]["total"] == 5  # 2 bands + 3 images
    assert doc["response"]["failures"] == []
    assert _leftovers(state, uid, upload_uids) == NOTHING
    assert list(state.objects.list()) == []
    # The late upload URL now leads nowhere, and stores nothing.
    assert httpx.put(url, content=b"late bytes", timeout=30).status_code == 404
    assert list(state.objects.list()) == []


def test_deletion_resumes_after_a_restart(server_factory: Any, tmp_path: Path) -> None:
    first = server_factory(tmp_path / "data")
    first.state.maintenance.stop()  # as if the server died before finishing
    owner = _owner(first)
    pid = create_product(owner, "big")
    add_band(owner, pid)
    insert_images(first.state, pid, 1200, files=30, tmp=tmp_path)
    uid = first.state.repo.one(t.products, id=pid)["uid"]
    task = owner.delete(f"{CAT}/products/{pid}", params={"cascade": "True"}).json()["deletion_task"]
    Maintenance(first.state.repo, first.state.objects).run_once()  # one batch only
    doc = owner.get(f"{CAT}/products/deletion_tasks/{task}").json()
    assert doc["completed"] is False and "response" not in doc
    assert doc["status"] == "RUNNING"
    assert 0 < doc["task"]["status"]["deleted"] < doc["task"]["status"]["total"] == 1201
    token = first.token("owner")
    first.stop()

    second = server_factory(tmp_path / "data")
    client = httpx.Client(base_url=second.url, headers={"Authorization": token}, timeout=60)
    done = wait_for(lambda: _task_done(client, task), timeout=30, what="the resumed deletion")
    assert done["status"] == "SUCCESS"
    assert done["response"]["deleted"] == 1201
    assert _leftovers(second.state, uid, []) == NOTHING
    assert list(second.state.objects.list()) == []


def test_recreating_a_product_while_its_deletion_runs(server: Any, tmp_path: Path) -> None:
    state = server.state
    state.maintenance.stop()  # the old deletion waits until we run it by hand
    owner = _owner(server)
    pid = create_product(owner, "again")
    add_band(owner, pid)
    upload_tif(owner, pid, tiny_tif(tmp_path, "img.tif"))
    old_uid = state.repo.one(t.products, id=pid)["uid"]
    task = owner.delete(f"{CAT}/products/{pid}", params={"cascade": "True"}).json()["deletion_task"]
    # The same id, the same band and the same image key, at once.
    assert create_product(owner, "again") == pid
    add_band(owner, pid)
    upload_tif(owner, pid, tiny_tif(tmp_path, "img.tif"))
    new = state.repo.one(t.products, id=pid)
    assert new["uid"] != old_uid

    maintenance = Maintenance(state.repo, state.objects)
    wait_for(lambda: not maintenance.run_once() and _task_done(owner, task), timeout=20)
    assert _leftovers(state, old_uid, []) == NOTHING
    # The new product is whole: its band, its image, its file and its pixels.
    assert owner.get(f"{CAT}/products/{pid}/bands/blue").status_code == 200
    image = state.repo.one(t.images, id=f"{pid}:img")
    assert image["product_uid"] == new["uid"]
    assert state.objects.exists(image["storage_key"])
    r = owner.post("/raster/v1/npz", json={"ids": [f"{pid}:img"], "bands": ["blue"]})
    assert r.status_code == 200, r.text


def test_deletion_status_is_seen_only_by_who_deleted(world: World, unique: str) -> None:
    owner = world.clients["owner"]
    co_owner_ns = world.namespace("writer")
    pid = create_product(owner, f"task-{unique}", owners=[f"user:{co_owner_ns}"])
    task = owner.delete(f"{CAT}/products/{pid}", params={"cascade": "True"}).json()["deletion_task"]
    assert owner.get(f"{CAT}/products/deletion_tasks/{task}").status_code == 200
    for role in ("writer", "reader_user", "outsider"):
        assert world.clients[role].get(f"{CAT}/products/deletion_tasks/{task}").status_code == 404
    assert owner.get(f"{CAT}/products/deletion_tasks/nope:1").status_code == 404


def test_remove_band_in_use_needs_force(server: Any, tmp_path: Path) -> None:
    owner = _owner(server)
    pid = create_product(owner, "bands")
    add_band(owner, pid)
    add_band(owner, pid, name="spare", srcband=1)
    upload_tif(owner, pid, tiny_tif(tmp_path))
    assert owner.post(f"{CAT}/products/{pid}/images", json={"id": "meta"}).status_code == 201
    r = owner.delete(f"{CAT}/products/{pid}/bands/blue")
    assert r.status_code == 409
    detail = r.json()["errors"][0]["detail"]
    assert "1 image(s)" in detail and "force=true" in detail
    assert owner.get(f"{CAT}/products/{pid}/bands/blue").status_code == 200
    r = owner.delete(f"{CAT}/products/{pid}/bands/blue", params={"force": "true"})
    assert r.status_code == 204
    assert owner.get(f"{CAT}/products/{pid}/bands/blue").status_code == 404
    assert owner.get(f"{META}/bands/{pid}:blue").status_code == 404


def test_remove_band_no_image_holds(server: Any, tmp_path: Path) -> None:
    owner = _owner(server)
    pid = create_product(owner, "spare")
    add_band(owner, pid)
    upload_tif(owner, pid, tiny_tif(tmp_path))
    add_band(owner, pid, name="later")  # added after the upload: no image holds it
    assert owner.delete(f"{CAT}/products/{pid}/bands/later").status_code == 204
    r = owner.delete(f"{CAT}/products/{pid}/bands/later")
    assert r.status_code == 404


def test_remove_image_removes_row_index_and_file(server: Any, tmp_path: Path) -> None:
    owner = _owner(server)
    pid = create_product(owner, "img")
    add_band(owner, pid)
    upload_tif(owner, pid, tiny_tif(tmp_path))
    state = server.state
    row = state.repo.one(t.images, id=f"{pid}:img")
    assert state.objects.exists(row["storage_key"])
    assert owner.delete(f"{CAT}/products/{pid}/images/{pid}:img").status_code == 204
    assert state.repo.one(t.images, id=f"{pid}:img") is None
    assert not state.objects.exists(row["storage_key"])
    uid = state.repo.one(t.products, id=pid)["uid"]
    assert _leftovers(state, uid, [])["rtree_orphans"] == []
    assert list(state.objects.list(f"products/{uid}")) == []
    assert owner.get(f"{META}/get/{pid}:img").status_code == 404
    r = owner.post("/raster/v1/npz", json={"ids": [f"{pid}:img"], "bands": ["blue"]})
    assert r.status_code == 404


class _BrokenStore(LocalObjectStore):
    """Local storage that fails on chosen operations: a fake at the storage boundary only."""

    def __init__(self, root: Path, *, fail_delete: str = "", fail_list: bool = False) -> None:
        super().__init__(root)
        self.fail_delete = fail_delete
        self.fail_list = fail_list

    def delete(self, key: str) -> None:
        if self.fail_delete and key.endswith(self.fail_delete):
            raise OSError("disk says no")
        super().delete(key)

    def list(self, prefix: str = "") -> Iterator[str]:
        if self.fail_list:
            raise OSError("listing failed")
        return super().list(prefix)


def _doomed(server: Any, tmp_path: Path, n: int = 3) -> tuple[httpx.Client, str, str]:
    server.state.maintenance.stop()
    owner = _owner(server)
    pid = create_product(owner, "doomed")
    add_band(owner, pid)
    insert_images(server.state, pid, n, files=n, tmp=tmp_path)
    r = owner.delete(f"{CAT}/products/{pid}", params={"cascade": "True"})
    return owner, pid, r.json()["deletion_task"]


def test_a_file_that_cannot_be_deleted_is_reported(server: Any, tmp_path: Path) -> None:
    owner, _, task = _doomed(server, tmp_path)
    root = server.state.objects.root
    maintenance = Maintenance(server.state.repo, _BrokenStore(root, fail_delete="bulk-1.tif"))
    doc = wait_for(lambda: not maintenance.run_once() and _task_done(owner, task), timeout=20)
    assert doc["status"] == "FAILURE"
    assert doc["response"]["deleted"] == doc["response"]["total"] == 4  # every row went
    failures = doc["response"]["failures"]
    assert failures and all("bulk-1.tif" in f and "disk says no" in f for f in failures)
    assert [k.rsplit("/", 1)[-1] for k in server.state.objects.list()] == ["bulk-1.tif"]


def test_a_failing_step_is_retried_then_given_up(server: Any, tmp_path: Path) -> None:
    owner, _, task = _doomed(server, tmp_path)
    root = server.state.objects.root
    maintenance = Maintenance(server.state.repo, _BrokenStore(root, fail_list=True))
    assert maintenance.run_once()  # the images go; then listing what is left fails
    for _ in range(MAX_TASK_ERRORS - 1):
        assert not maintenance.run_once()
    doc = owner.get(f"{CAT}/products/deletion_tasks/{task}").json()
    assert doc["completed"] is False and doc["status"] == "RUNNING"
    assert len(doc["task"]["status"]["failures"]) == MAX_TASK_ERRORS - 1
    maintenance.run_once()
    doc = owner.get(f"{CAT}/products/deletion_tasks/{task}").json()
    assert doc["completed"] is True and doc["status"] == "FAILURE"
    assert "listing failed" in doc["response"]["failures"][-1]

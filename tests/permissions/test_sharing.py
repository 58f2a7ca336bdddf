"""Sharing: the product's own ACL, set_global_permissions, inheritance, membership changes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from _perm_world import (
    BLUE,
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
from rastercat.store.sql.repo import t


def _status(client: Any, path: str) -> int:
    return int(client.get(path).status_code)


@pytest.fixture
def private(world: World, unique: str) -> str:
    """A product with a band and a metadata image, created before any sharing."""
    owner = world.clients["owner"]
    pid = create_product(owner, f"priv-{unique}")
    add_band(owner, pid)
    r = owner.post(f"{CAT}/products/{pid}/images", json={"id": "meta", "cloud_fraction": 0.1})
    assert r.status_code == 201, r.text
    return pid


def test_sharing_the_product_alone_shows_only_the_product(world: World, private: str) -> None:
    owner, reader = world.clients["owner"], world.clients["reader_group"]
    r = owner.patch(f"{CAT}/products/{private}", json={"read": [world.group]})
    assert r.status_code == 200
    assert r.json()["data"]["attributes"]["read"] == [f"group:{world.group}"]
    assert _status(reader, f"{CAT}/products/{private}") == 200
    assert _status(reader, f"{META}/products/{private}") == 200
    # The guide's warning: without set_global_permissions the band and image stay private.
    assert _status(reader, f"{CAT}/products/{private}/bands/blue") == 404
    assert _status(reader, f"{CAT}/products/{private}/images/meta") == 404
    assert _status(reader, f"{META}/get/{private}:meta") == 404
    assert reader.get(f"{META}/bands/all/{private}").json() == {}
    assert reader.post(f"{META}/search", json={"products": [private]}).json() == []
    assert reader.post(f"{META}/summary", json={"products": [private]}).json()["count"] == 0


def test_set_global_permissions_shares_bands_and_images(world: World, private: str) -> None:
    owner, reader = world.clients["owner"], world.clients["reader_group"]
    r = owner.patch(
        f"{CAT}/products/{private}",
        params={"set_global_permissions": "true"},
        json={"read": [world.group]},
    )
    assert r.status_code == 200
    wait_for(
        lambda: _status(reader, f"{CAT}/products/{private}/images/meta") == 200,
        timeout=10,
        what="the image to be shared",
    )
    band = reader.get(f"{CAT}/products/{private}/bands/blue").json()["data"]["attributes"]
    assert band["read"] == [f"group:{world.group}"]
    assert [f["id"] for f in reader.post(f"{META}/search", json={"products": [private]}).json()]


def test_unsharing_with_set_global_permissions_hides_everything_again(
    world: World, private: str
) -> None:
    owner, reader = world.clients["owner"], world.clients["reader_user"]
    ns = world.namespace("reader_user")
    params = {"set_global_permissions": "true"}
    owner.patch(f"{CAT}/products/{private}", params=params, json={"read": [f"user:{ns}"]})
    wait_for(lambda: _status(reader, f"{META}/get/{private}:meta") == 200, timeout=10)
    owner.patch(f"{CAT}/products/{private}", params=params, json={"read": []})
    assert _status(reader, f"{CAT}/products/{private}") == 404
    wait_for(
        lambda: world.server.state.repo.one(t.images, id=f"{private}:meta")["readers"] == [],
        timeout=10,
        what="the image's ACL to be cleared",
    )


def test_set_global_permissions_is_fast_for_thousands_of_images(world: World, private: str) -> None:
    state = world.server.state
    insert_images(state, private, 3000)
    owner, reader = world.clients["owner"], world.clients["reader_org"]
    assert reader.post(f"{META}/summary", json={"products": [private]}).json()["count"] == 0
    started = time.monotonic()
    r = owner.patch(
        f"{CAT}/products/{private}",
        params={"set_global_permissions": "true"},
        json={"read": [f"org:{world.org}"]},
    )
    assert r.status_code == 200
    # The request itself does not do the work.
    assert time.monotonic() - started < 2
    wait_for(
        lambda: (
            reader.post(f"{META}/summary", json={"products": [private]}).json()["count"] == 3001
        ),
        timeout=10,
        what="3000 images to be shared",
    )
    uid = state.repo.one(t.products, id=private)["uid"]
    for table in (t.images, t.bands):
        stale = state.repo.count(table, table.c.product_uid == uid, table.c.readers == [])
        assert stale == 0


def test_bands_and_images_created_after_sharing_inherit(
    world: World, unique: str, tmp_path: Path
) -> None:
    owner, writer = world.clients["owner"], world.clients["writer"]
    pid = create_product(owner, f"inherit-{unique}", **world.acl())
    add_band(writer, pid)  # a writer adds the band
    r = writer.post(f"{CAT}/products/{pid}/images", json={"id": "meta"})
    assert r.status_code == 201
    upload_tif(writer, pid, tiny_tif(tmp_path))  # and uploads an image
    for role in ("reader_user", "reader_group", "reader_org"):
        reader = world.clients[role]
        assert _status(reader, f"{CAT}/products/{pid}/bands/blue") == 200, role
        assert _status(reader, f"{CAT}/products/{pid}/images/meta") == 200, role
        assert _status(reader, f"{META}/get/{pid}:img") == 200, role
        r = reader.post("/raster/v1/npz", json={"ids": [f"{pid}:img"], "bands": ["blue"]})
        assert r.status_code == 200, (role, r.text)
    attrs = owner.get(f"{CAT}/products/{pid}/images/img").json()["data"]["attributes"]
    assert set(attrs["read"]) == {
        f"user:{world.namespace('reader_user')}",
        f"group:{world.group}",
        f"org:{world.org}",
    }


def test_only_owners_choose_other_permissions_for_new_objects(world: World, unique: str) -> None:
    owner, writer = world.clients["owner"], world.clients["writer"]
    pid = create_product(owner, f"acl-{unique}", **world.acl())
    r = writer.post(f"{CAT}/products/{pid}/bands", json={"name": "b", **_band(), "read": []})
    assert r.status_code == 403
    r = writer.post(f"{CAT}/products/{pid}/images", json={"id": "x", "owners": ["user:me"]})
    assert r.status_code == 403
    r = owner.post(f"{CAT}/products/{pid}/bands", json={"name": "b", **_band(), "read": []})
    assert r.status_code == 201
    assert r.json()["data"]["attributes"]["read"] == []
    assert _status(world.clients["reader_user"], f"{CAT}/products/{pid}/bands/b") == 404


def _band() -> dict[str, Any]:
    return {k: v for k, v in BLUE.items() if k != "name"}


def test_a_product_needs_an_owner(world: World, private: str) -> None:
    r = world.clients["owner"].patch(f"{CAT}/products/{private}", json={"owners": []})
    assert r.status_code == 400


def test_membership_changes_take_effect_on_the_next_request(world: World, unique: str) -> None:
    users = world.server.state.users
    owner = world.clients["owner"]
    group, org = f"mem-g-{unique}", f"mem-o-{unique}"
    pid = create_product(owner, f"mem-{unique}", read=[group, f"org:{org}"])
    name = f"pm-member-{unique}"
    client = world.server.client(name)  # a user in neither group nor org
    path = f"{CAT}/products/{pid}"
    assert _status(client, path) == 404
    users.set_groups(name, add=(group,))
    assert _status(client, path) == 200
    users.set_groups(name, remove=(group,))
    assert _status(client, path) == 404
    users.set_org(name, org)
    assert _status(client, path) == 200
    users.set_org(name, None)
    assert _status(client, path) == 404
    users.set_org(name, org)
    users.revoke_tokens(name)
    assert _status(client, path) == 401
    users.remove_user(name)
    r = client.get(path)
    assert r.status_code == 401 and "not known" in r.json()["errors"][0]["detail"]

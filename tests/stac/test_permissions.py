"""The permission matrix through STAC: what the Metadata API hides is 404 (never 403) and absent."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from helpers import wait_for
from stac.conftest import CAT, STAC, make_product


@pytest.fixture(scope="module")
def world(live_server: Any) -> dict[str, Any]:
    owner = live_server.client("perm-owner")
    pid = make_product(owner, "stac-private")
    r = owner.post(f"{CAT}/products/{pid}/bands",
                   json=dict(name="b", srcband=1, nbits=8, dtype="Byte", data_range=[0, 255], type="spectral"))  # fmt: skip
    assert r.status_code == 201
    r = owner.post(f"{CAT}/products/{pid}/images",
                   json={"id": "i", "acquired": "2019-01-01T00:00:00Z", "cloud_fraction": 0.2,
                         "extra_properties": {"secret_key": "v"},
                         "geometry": {"type": "Polygon", "coordinates": [[[50, 50], [51, 50], [51, 51], [50, 50]]]}})  # fmt: skip
    assert r.status_code == 201, r.text
    live_server.token("perm-friend", groups=("stac-friends",))
    live_server.token("perm-partner", groups=("stac-partners",))
    return {"pid": pid, "iid": f"{pid}:i", "owner": owner,
            "stranger": live_server.client("perm-stranger"),
            "friend": live_server.client("perm-friend"), "partner": live_server.client("perm-partner")}  # fmt: skip


def _visible(c: Any, pid: str, iid: str) -> dict[str, Any]:
    """What one caller can see of the product and its image, through every STAC route."""
    enc = quote(pid, safe=":")
    return {
        "collection": c.get(f"{STAC}/collections/{enc}").status_code,
        "items": c.get(f"{STAC}/collections/{enc}/items").status_code,
        "item": c.get(f"{STAC}/collections/{enc}/items/{quote(iid, safe='')}").status_code,
        "queryables": c.get(f"{STAC}/collections/{enc}/queryables").status_code,
        "listed": pid in [x["id"] for x in c.get(f"{STAC}/collections").json()["collections"]],
        "child": any(link["href"].endswith(f"/collections/{enc}") for link in c.get(f"{STAC}/").json()["links"]),
        "searched": iid in [f["id"] for f in c.get(f"{STAC}/search", params={"limit": 10000}).json()["features"]],
        "by_id": [f["id"] for f in c.post(f"{STAC}/search", json={"ids": [iid]}).json()["features"]] == [iid],
        "by_filter": [f["id"] for f in c.get(f"{STAC}/search", params={"filter": "secret_key = 'v'"}).json()["features"]] == [iid],
        "extra_queryable": "secret_key" in c.get(f"{STAC}/queryables").json()["properties"],
    }  # fmt: skip


HIDDEN = {"collection": 404, "items": 404, "item": 404, "queryables": 404, "listed": False,
          "child": False, "searched": False, "by_id": False, "by_filter": False,
          "extra_queryable": False}  # fmt: skip
SHOWN = {"collection": 200, "items": 200, "item": 200, "queryables": 200, "listed": True,
         "child": True, "searched": True, "by_id": True, "by_filter": True, "extra_queryable": True}  # fmt: skip


def test_owner_sees_everything(world: dict[str, Any]) -> None:
    assert _visible(world["owner"], world["pid"], world["iid"]) == SHOWN


def test_stranger_sees_nothing(world: dict[str, Any]) -> None:
    assert _visible(world["stranger"], world["pid"], world["iid"]) == HIDDEN
    r = world["stranger"].post(f"{STAC}/search", json={"collections": [world["pid"]]})
    assert r.status_code == 200 and r.json()["features"] == []


def test_sharing_the_product_alone_shows_the_collection_not_its_items(
    world: dict[str, Any],
) -> None:
    r = world["owner"].patch(f"{CAT}/products/{world['pid']}", json={"read": ["stac-partners"]})
    assert r.status_code == 200
    seen = _visible(world["partner"], world["pid"], world["iid"])
    assert seen == {**HIDDEN, "collection": 200, "items": 200, "queryables": 200, "listed": True,
                    "child": True, "extra_queryable": True}  # fmt: skip
    r = world["partner"].get(f"{STAC}/collections/{quote(world['pid'], safe='')}/items")
    assert r.json()["features"] == []


def test_sharing_with_global_permissions_shows_the_items(world: dict[str, Any]) -> None:
    r = world["owner"].patch(f"{CAT}/products/{world['pid']}", params={"set_global_permissions": "true"},
                             json={"read": ["stac-friends"]})  # fmt: skip
    assert r.status_code == 200
    wait_for(lambda: _visible(world["friend"], world["pid"], world["iid"]) == SHOWN, timeout=20,
             what="the images to be shared")  # fmt: skip
    assert _visible(world["stranger"], world["pid"], world["iid"]) == HIDDEN

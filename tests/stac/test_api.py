"""The STAC API's documents through the live HTTP app: landing page, conformance, collections,
items, and the 400/401/404 answers."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from stac.conftest import STAC


def test_landing_page_links_and_conformance(seeded: dict[str, Any], live_server: Any) -> None:
    c = seeded["client"]
    doc = c.get(f"{STAC}/").json()
    assert doc["type"] == "Catalog" and doc["stac_version"] == "1.1.0"
    rels = {(link["rel"], link.get("method")) for link in doc["links"]}
    for rel in ("self", "root", "conformance", "data", "service-desc", "service-doc",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables"):  # fmt: skip
        assert any(r == rel for r, _ in rels), rel
    assert ("search", "GET") in rels and ("search", "POST") in rels
    desc = next(link for link in doc["links"] if link["rel"] == "service-desc")
    openapi = c.get(desc["href"])
    assert openapi.status_code == 200 and f"{STAC}/search" in openapi.json()["paths"]
    for uri in ("https://api.stacspec.org/v1.0.0/core", "https://api.stacspec.org/v1.0.0/item-search",
                "https://api.stacspec.org/v1.0.0/item-search#filter",
                "https://api.stacspec.org/v1.0.0/item-search#sort",
                "https://api.stacspec.org/v1.1.0/item-search#sort",
                "https://api.stacspec.org/v1.0.0/item-search#fields",
                "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2"):  # fmt: skip
        assert uri in doc["conformsTo"]
    assert c.get(f"{STAC}/conformance").json()["conformsTo"] == doc["conformsTo"]
    assert c.get(STAC).json()["id"] == doc["id"]  # with and without the trailing slash


def test_every_route_needs_a_token(seeded: dict[str, Any], live_server: Any) -> None:
    anon = live_server.client(None)
    pid, iid = seeded["pid"], seeded["ids"]["a"]
    for path in ("/", "/conformance", "/collections", f"/collections/{pid}",
                 f"/collections/{pid}/items", f"/collections/{pid}/items/{quote(iid, safe='')}",
                 "/search", "/queryables", f"/collections/{pid}/queryables"):  # fmt: skip
        r = anon.get(f"{STAC}{path}")
        assert r.status_code == 401, (path, r.status_code)
        assert r.json()["errors"][0]["status"] == "401"
    assert anon.post(f"{STAC}/search", json={}).status_code == 401


def test_collection_from_product(seeded: dict[str, Any]) -> None:
    c, pid = seeded["client"], seeded["pid"]
    col = c.get(f"{STAC}/collections/{quote(pid, safe='')}").json()
    assert col["type"] == "Collection" and col["id"] == pid
    assert col["extent"]["spatial"]["bbox"] == [[0.0, 0.0, 11.0, 11.0]]
    assert col["extent"]["temporal"]["interval"] == [
        ["2018-01-05T00:00:00Z", "2018-05-01T00:00:00Z"]
    ]
    assert col["keywords"] == ["test", "stac"] and col["license"] == "proprietary"
    assert col["summaries"]["eo:bands"] == [
        {"name": "red", "common_name": "red", "center_wavelength": 0.665}
    ]
    assert col["item_assets"]["data"]["roles"] == ["data"]
    ids = [x["id"] for x in c.get(f"{STAC}/collections").json()["collections"]]
    assert pid in ids and seeded["other"] in ids


def test_extent_follows_images(seeded: dict[str, Any]) -> None:
    c, other = seeded["client"], seeded["other"]
    before = c.get(f"{STAC}/collections/{other}").json()["extent"]
    assert before["spatial"]["bbox"] == [[0.0, 0.0, 1.0, 1.0]]
    r = c.post(f"/metadata/v1/catalog/products/{other}/images",
               json={"id": "far", "acquired": "2019-06-01T00:00:00Z",
                     "geometry": {"type": "Polygon", "coordinates": [[[20, 20], [21, 20], [21, 21], [20, 20]]]}})  # fmt: skip
    assert r.status_code == 201, r.text
    after = c.get(f"{STAC}/collections/{other}").json()["extent"]
    assert after["spatial"]["bbox"] == [[0.0, 0.0, 21.0, 21.0]]
    assert after["temporal"]["interval"] == [["2018-01-20T00:00:00Z", "2019-06-01T00:00:00Z"]]
    assert c.delete(f"/metadata/v1/catalog/products/{other}/images/far").status_code in (200, 204)
    assert c.get(f"{STAC}/collections/{other}").json()["extent"] == before


def test_item_from_image(seeded: dict[str, Any]) -> None:
    c, pid, iid = seeded["client"], seeded["pid"], seeded["ids"]["a"]
    r = c.get(f"{STAC}/collections/{pid}/items/{quote(iid, safe='')}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    doc = r.json()
    assert doc["id"] == iid and doc["collection"] == pid and doc["bbox"] == [0.0, 0.0, 1.0, 1.0]
    props = doc["properties"]
    assert props["datetime"] == "2018-01-05T00:00:00Z"
    assert props["cloud_fraction"] == 0.1 and props["sat_id"] == "S1"
    assert props["tile"] == "x1" and props["score"] == 5  # extra_properties, spread out
    assert "owners" not in props and "read" not in props
    # An image of another collection is not found under this one.
    assert c.get(f"{STAC}/collections/{pid}/items/{quote(seeded['z'], safe='')}").status_code == 404


def test_collection_items_pages(seeded: dict[str, Any]) -> None:
    c, pid = seeded["client"], seeded["pid"]
    r = c.get(f"{STAC}/collections/{pid}/items", params={"limit": 2})
    body = r.json()
    assert [f["id"].rsplit(":", 1)[1] for f in body["features"]] == ["a", "b"]
    nxt = next(link for link in body["links"] if link["rel"] == "next")
    body2 = c.get(nxt["href"]).json()
    assert [f["id"].rsplit(":", 1)[1] for f in body2["features"]] == ["c", "l"]
    r = c.get(f"{STAC}/collections/{pid}/items", params={"bbox": "0.9,0.9,1.1,1.1"})
    assert sorted(f["id"].rsplit(":", 1)[1] for f in r.json()["features"]) == ["a", "c"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "-1"}, "limit"), ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit"),
        ({"bbox": "1,2,3"}, "bbox"), ({"bbox": "0,0,a,1"}, "bbox"), ({"bbox": "0,10,1,5"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"), ({"datetime": "../.."}, "datetime"),
        ({"datetime": "2020-02-01T00:00:00Z/2020-01-01T00:00:00Z"}, "datetime"),
        ({"intersects": "{nope"}, "intersects"), ({"filter": "cloud_fraction <"}, "filter"),
        ({"filter": "x = 1", "filter-lang": "sql"}, "filter-lang"),
        ({"filter": "geometry = 1"}, "filter"), ({"sortby": "-a,+b"}, "sortby"),
        ({"next": "garbage"}, "next"), ({"filter": "x = 1", "filter-crs": "EPSG:3857"}, "filter-crs"),
    ],
)  # fmt: skip
def test_bad_parameters_are_400_naming_them(
    seeded: dict[str, Any], params: dict, field: str
) -> None:
    r = seeded["client"].get(f"{STAC}/search", params=params)
    assert r.status_code == 400, r.text
    err = r.json()["errors"][0]
    assert err["source"]["pointer"] == field, err


@pytest.mark.parametrize(
    ("body", "field"),
    [({"limit": -1}, "limit"), ({"bbox": [0, 0, 1]}, "bbox"), ({"bbox": "0,0,1,1"}, "bbox"),
     ({"intersects": {"type": "Polygon", "coordinates": "x"}}, "intersects"),
     ({"filter": {"op": "=", "args": [1]}, "filter-lang": "cql2-json"}, "filter"),
     ({"sortby": [{"field": "id", "direction": "up"}]}, "sortby"), ({"collections": 3}, "collections"),
     ({"fields": 3}, "fields")],
)  # fmt: skip
def test_bad_post_bodies_are_400(seeded: dict[str, Any], body: dict, field: str) -> None:
    r = seeded["client"].post(f"{STAC}/search", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["source"]["pointer"] == field


def test_large_limit_is_clamped(seeded: dict[str, Any], live_server: Any) -> None:
    top = live_server.settings.stac.max_limit
    r = seeded["client"].get(
        f"{STAC}/search", params={"limit": top * 10, "collections": seeded["pid"]}
    )
    assert r.status_code == 200 and len(r.json()["features"]) == 5


def test_bbox_forms_and_intersects(seeded: dict[str, Any]) -> None:
    c, pid = seeded["client"], seeded["pid"]

    def ids(**params: Any) -> list[str]:
        r = c.get(f"{STAC}/search", params={"collections": pid, **params})
        assert r.status_code == 200, r.text
        return [f["id"].rsplit(":", 1)[1] for f in r.json()["features"]]

    assert ids(bbox="0.9,0.9,1.1,1.1") == ["a", "c"]
    assert ids(bbox="0.9,0.9,-100,1.1,1.1,9000") == ["a", "c"]  # 6 numbers: the heights are ignored
    assert ids(bbox="10.5,10.2,-179,10.4") == ["d"]  # west > east: across the antimeridian
    shape = {"type": "Point", "coordinates": [10.5, 10.5]}
    assert ids(intersects=json.dumps(shape)) == ["d"]
    r = c.post(f"{STAC}/search", json={"collections": [pid], "intersects": shape})
    assert [f["id"].rsplit(":", 1)[1] for f in r.json()["features"]] == ["d"]
    r = c.post(f"{STAC}/search", json={"ids": [f"x{i}" for i in range(10_001)]})
    assert r.status_code == 400 and r.json()["errors"][0]["source"]["pointer"] == "ids"


def test_a_token_in_the_query_is_refused_outside_tiles(
    seeded: dict[str, Any], live_server: Any
) -> None:
    """``?token=`` authenticates tile and TileJSON routes only (a token in a URL ends up in logs):
    a STAC search that carries it instead of the header is a 401, and the next links of a search
    never carry the caller's token."""
    anon = live_server.client(None)
    params = {"collections": seeded["pid"], "limit": 2, "token": live_server.token("stac-owner")}
    r = anon.get(f"{STAC}/search", params=params)
    assert r.status_code == 401 and r.json()["errors"][0]["title"] == "Unauthenticated"
    c = live_server.client("stac-owner")
    body = c.get(f"{STAC}/search", params={"collections": seeded["pid"], "limit": 2}).json()
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    assert "token=" not in nxt.replace("next=", "")

"""Item search through pystac-client against the live server: the same ids as the Metadata search
for areas, dates, properties and CQL2; sorting, fields and paging."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pystac_client import Client

from stac.conftest import META, STAC, box, bulk_images, make_product


def stac_client(live_server: Any, user: str) -> Client:
    return Client.open(
        f"{live_server.url}{STAC}/", headers={"Authorization": live_server.token(user)}
    )


def meta_ids(c: Any, **body: Any) -> list[str]:
    body.setdefault("limit", 1000)
    r = c.post(f"{META}/search", json=body)
    assert r.status_code == 200, r.text
    return [f["id"] for f in r.json()]


def stac_ids(client: Client, **kw: Any) -> list[str]:
    return [i.id for i in client.search(max_items=None, **kw).items()]


@pytest.mark.parametrize(
    ("stac", "meta"),
    [
        ({}, {}),
        ({"bbox": [0.9, 0.9, 1.1, 1.1]}, {"geom": json.dumps(box(0.9, 0.9, 1.1, 1.1))}),
        # Exact footprints, not their bounding boxes: (4.5, 4.5) is inside L's bbox only.
        ({"bbox": [4.4, 4.4, 4.6, 4.6]}, {"geom": json.dumps(box(4.4, 4.4, 4.6, 4.6))}),
        ({"intersects": box(4.05, 4.05, 4.1, 4.1)}, {"geom": json.dumps(box(4.05, 4.05, 4.1, 4.1))}),
        ({"datetime": "2018-02-10T12:00:00Z/2018-03-15T00:00:00Z"},
         {"start_datetime": "2018-02-10T12:00:00Z", "end_datetime": "2018-03-15T00:00:00Z"}),
        ({"datetime": "../2018-02-10T12:00:00Z"}, {"end_datetime": "2018-02-10T12:00:00Z"}),
        ({"datetime": "2018-03-15T00:00:00Z/.."}, {"start_datetime": "2018-03-15T00:00:00Z"}),
        ({"datetime": "2018-02-10T12:00:00Z"},
         {"start_datetime": "2018-02-10T12:00:00Z", "end_datetime": "2018-02-10T12:00:00Z"}),
        ({"filter": "cloud_fraction <= 0.5", "filter_lang": "cql2-text"},
         {"query_expr": {"range": {"cloud_fraction": {"lte": 0.5}}}}),
        ({"filter": {"op": "in", "args": [{"property": "sat_id"}, ["S1", "S3"]]}, "filter_lang": "cql2-json"},
         {"sat_ids": ["S1", "S3"]}),
        ({"filter": "tile = 'x1'"}, {"query_expr": {"eq": {"tile": "x1"}}}),
        ({"filter": "score > 5"}, {"query_expr": {"range": {"score": {"gt": 5}}}}),
        ({"filter": "cloud_fraction >= 0.3 AND S_INTERSECTS(geometry, POLYGON((0 0, 12 0, 12 12, 0 12, 0 0)))"},
         {"query_expr": {"range": {"cloud_fraction": {"gte": 0.3}}}, "geom": json.dumps(box(0, 0, 12, 12))}),
    ],
)  # fmt: skip
def test_same_ids_as_metadata_search(
    seeded: dict[str, Any], live_server: Any, stac: dict, meta: dict
) -> None:
    client = stac_client(live_server, "stac-owner")
    expected = meta_ids(seeded["client"], products=[seeded["pid"]], **meta)
    got = stac_ids(client, collections=[seeded["pid"]], **stac)
    assert got == expected
    assert got or stac == {"bbox": [4.4, 4.4, 4.6, 4.6]}  # the cases are not vacuous


@pytest.mark.parametrize(
    ("cql", "keys"),
    [
        ("cloud_fraction < 0.5", ["a", "d"]),
        ("cloud_fraction <> 0.5", ["a", "c", "d"]),  # a missing property matches no comparison
        ("NOT (cloud_fraction = 0.5)", ["a", "c", "d"]),
        ("cloud_fraction BETWEEN 0.3 AND 0.5", ["b", "d"]),
        ("cloud_fraction NOT BETWEEN 0.3 AND 0.5", ["a", "c"]),
        ("cloud_fraction IS NULL", ["l"]),
        ("cloud_fraction IS NOT NULL", ["a", "b", "c", "d"]),
        ("sat_id IN ('S1', 'S2')", ["a", "b", "c"]),
        ("sat_id NOT IN ('S1')", ["b", "d"]),
        ("tile LIKE 'x%'", ["a", "d"]),  # case-sensitive: X2 does not match
        ("tile LIKE 'x\\%%'", ["d"]),  # an escaped wildcard is a literal %
        ("CASEI(tile) LIKE CASEI('x_')", ["a", "b"]),
        ("tile LIKE '_2'", ["b"]),
        ("score = 5", ["a"]),  # a number, not the string "5"
        ("score = '5'", []),
        ("sat_id = 'S1' OR score > 6", ["a", "b", "c"]),
        ("datetime > TIMESTAMP('2018-03-15T00:00:00Z')", ["l", "d"]),
        ("datetime >= DATE('2018-03-15')", ["c", "l", "d"]),
        ("T_INTERSECTS(datetime, INTERVAL('2018-02-01T00:00:00Z', '2018-03-31T00:00:00Z'))", ["b", "c"]),
        ("T_INTERSECTS(datetime, INTERVAL('2018-04-01T00:00:00Z', '..'))", ["l", "d"]),
        ("T_BEFORE(datetime, TIMESTAMP('2018-02-10T12:00:00Z'))", ["a"]),
        ("T_AFTER(datetime, DATE('2018-03-15'))", ["l", "d"]),
        ("T_DISJOINT(datetime, INTERVAL('2018-02-01T00:00:00Z', '2018-04-30T00:00:00Z'))", ["a", "d"]),
        ("S_INTERSECTS(geometry, POINT(4.5 4.5))", []),  # exact: inside L's bbox only
        ("S_INTERSECTS(geometry, POINT(4.1 4.1))", ["l"]),
        ("S_INTERSECTS(geometry, BBOX(0.9, 0.9, 1.1, 1.1))", ["a", "c"]),
        ("S_WITHIN(geometry, POLYGON((-1 -1, 3.5 -1, 3.5 3.5, -1 3.5, -1 -1)))", ["a", "b", "c"]),
        ("S_CONTAINS(geometry, POINT(0.7 0.7))", ["a", "c"]),
        ("S_DISJOINT(geometry, POLYGON((-1 -1, 3.5 -1, 3.5 3.5, -1 3.5, -1 -1)))", ["l", "d"]),
        ("S_INTERSECTS(geometry, POINT(0.2 0.2)) OR S_INTERSECTS(geometry, POINT(10.5 10.5))", ["a", "d"]),
        ("id = '{a}' OR collection = 'nope'", ["a"]),
    ],
)  # fmt: skip
def test_cql2_text(seeded: dict[str, Any], live_server: Any, cql: str, keys: list[str]) -> None:
    client = stac_client(live_server, "stac-owner")
    cql = cql.replace("{a}", seeded["ids"]["a"])
    got = stac_ids(client, collections=[seeded["pid"]], filter=cql, filter_lang="cql2-text")
    assert got == [seeded["ids"][k] for k in keys]
    # The same filter as CQL2 JSON, by POST.
    import cql2

    body = {"collections": [seeded["pid"]], "filter": cql2.parse_text(cql).to_json(),
            "filter-lang": "cql2-json", "limit": 100}  # fmt: skip
    r = seeded["client"].post(f"{STAC}/search", json=body)
    assert r.status_code == 200, r.text
    assert [f["id"] for f in r.json()["features"]] == got


def test_ids_and_collections(seeded: dict[str, Any], live_server: Any) -> None:
    client = stac_client(live_server, "stac-owner")
    want = [seeded["ids"]["b"], seeded["z"]]
    assert sorted(stac_ids(client, ids=want)) == sorted(want)
    assert stac_ids(client, ids=want, collections=[seeded["other"]]) == [seeded["z"]]
    got = stac_ids(client, collections=[seeded["pid"], seeded["other"]], bbox=[0.1, 0.1, 0.2, 0.2])
    assert got == [seeded["ids"]["a"], seeded["z"]]  # date order across collections


def test_sortby(seeded: dict[str, Any], live_server: Any) -> None:
    client = stac_client(live_server, "stac-owner")
    pid, ids = seeded["pid"], seeded["ids"]
    by_date_desc = stac_ids(client, collections=[pid], sortby="-properties.datetime")
    assert by_date_desc == [ids[k] for k in ("d", "l", "c", "b", "a")]
    assert stac_ids(client, collections=[pid], sortby="+id") == sorted(ids.values())
    assert stac_ids(
        client, collections=[pid], sortby=[{"field": "id", "direction": "desc"}]
    ) == sorted(ids.values(), reverse=True)
    by_cloud = stac_ids(client, collections=[pid], sortby="-properties.cloud_fraction")
    assert by_cloud == [ids[k] for k in ("c", "b", "d", "a", "l")]  # missing values last


def test_fields(seeded: dict[str, Any]) -> None:
    c = seeded["client"]
    r = c.get(
        f"{STAC}/search",
        params={"ids": seeded["ids"]["a"], "fields": "properties.cloud_fraction,-links"},
    )
    (f,) = r.json()["features"]
    assert f == {"type": "Feature", "stac_version": "1.1.0", "id": seeded["ids"]["a"], "collection": seeded["pid"],
                 "properties": {"cloud_fraction": 0.1}}  # fmt: skip
    r = c.post(f"{STAC}/search", json={"ids": [seeded["ids"]["a"]], "fields": {"include": []}})
    (f,) = r.json()["features"]
    assert f["properties"] == {"datetime": "2018-01-05T00:00:00Z"} and "geometry" in f
    r = c.get(
        f"{STAC}/search",
        params={"ids": seeded["ids"]["a"], "fields": "-properties,+properties.score"},
    )
    (f,) = r.json()["features"]
    assert f["properties"] == {"score": 5}
    r = c.post(
        f"{STAC}/search",
        json={"ids": [seeded["ids"]["a"]], "fields": {"exclude": ["geometry", "properties.tile"]}},
    )
    (f,) = r.json()["features"]
    assert "geometry" not in f and "tile" not in f["properties"] and f["properties"]["score"] == 5


@pytest.fixture(scope="module")
def bulk(live_server: Any) -> dict[str, Any]:
    c = live_server.client("stac-bulk")
    pid = make_product(c, "stac-bulk")
    ids = bulk_images(live_server.state, pid, 2500, datetime(2020, 1, 1, tzinfo=UTC))
    return {"pid": pid, "ids": ids, "client": c}


def test_paging_2500_items_each_once(bulk: dict[str, Any], live_server: Any) -> None:
    client = stac_client(live_server, "stac-bulk")
    search = client.search(collections=[bulk["pid"]], limit=300, max_items=None)
    got = [i.id for i in search.items()]
    assert len(got) == 2500 and set(got) == set(bulk["ids"])
    assert got == bulk["ids"]  # date order
    # POST paging (pystac-client follows the next link's method and body).
    search = client.search(collections=[bulk["pid"]], limit=700, max_items=None, method="POST",
                           sortby="-id")  # fmt: skip
    assert [i.id for i in search.items()] == sorted(bulk["ids"], reverse=True)


@pytest.mark.parametrize("sortby", [None, "-datetime", "id"])
def test_paging_while_the_catalog_changes(
    live_server: Any, unique: str, sortby: str | None
) -> None:
    """Images added before the current position and deleted after it between two pages: every
    image present all along is returned exactly once."""
    c = live_server.client("stac-bulk")
    pid = make_product(c, f"stac-churn-{unique}")
    ids = bulk_images(live_server.state, pid, 60, datetime(2021, 1, 1, tzinfo=UTC))
    seen: list[str] = []
    params: dict[str, Any] = {"collections": pid, "limit": 10}
    if sortby:
        params["sortby"] = sortby
    url: str | None = f"{STAC}/search"
    pages = 0
    while url and pages < 20:  # bounded: a next link that does not advance fails, not hangs
        body = c.get(url, params=params if pages == 0 else None).json()
        seen += [f["id"] for f in body["features"]]
        pages += 1
        if pages == 2:  # delete two images not yet returned, add one before the position
            for gone in [i for i in ids if i not in seen][-2:]:
                key = gone.rsplit(":", 1)[1]
                assert c.delete(
                    f"/metadata/v1/catalog/products/{pid}/images/{key}"
                ).status_code in (200, 204)
                ids.remove(gone)
            r = c.post(f"/metadata/v1/catalog/products/{pid}/images",
                       json={"id": "aaa-late", "acquired": "2020-06-01T00:00:00Z"})  # fmt: skip
            assert r.status_code == 201
        url = next((link["href"] for link in body["links"] if link["rel"] == "next"), None)
    assert len(seen) == len(set(seen))
    assert set(ids) <= set(seen)

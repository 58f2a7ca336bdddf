"""Image records in bulk through the real HTTP app: all or nothing, every refused record named,
then found by the Metadata search (ids, counts and the spatial index)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

import rastercat as rc
from bulk.conftest import CAT, box, grid_records
from rastercat.errors import Conflict, InvalidInput

META = "/metadata/v1"


def bulk(client: httpx.Client, pid: str, records: list[dict[str, Any]]) -> httpx.Response:
    return client.post(f"{CAT}/products/{pid}/images/bulk", json={"data": records})


def count(client: httpx.Client, pid: str, **filters: Any) -> int:
    r = client.post(f"{META}/summary", json={"products": [pid], **filters})
    assert r.status_code == 200, r.text
    return int(r.json()["count"])


def add_in_batches_then_search(server: Any, pid: str, total: int) -> None:
    """``total`` records through the SDK in batches of 10,000, then searched."""
    records = grid_records(total)
    with server.env("alice"):
        added = rc.Catalog().add_images(pid, records)
        assert added["meta"]["count"] == total
        metadata = rc.Metadata()
        ids = metadata.ids(products=[pid], limit=None)
        assert sorted(ids) == sorted(f"{pid}:{r['id']}" for r in records)
        assert metadata.count(products=[pid]) == total
        # The spatial index holds every footprint: a box over grid cells x 0-4, y 0-1 finds
        # exactly those images.
        aoi = box(0.001, 0.001, 0.049, 0.019)
        found = metadata.ids(products=[pid], geom=json.dumps(aoi), limit=None)
        expected = {
            f"{pid}:{r['id']}"
            for i, r in enumerate(records)
            if (i % 1000) <= 4 and (i // 1000) <= 1
        }
        assert set(found) == expected and len(expected) == 10
        # ... and the dates: one month of the year.
        assert metadata.count(
            products=[pid], start_datetime="2020-03-01", end_datetime="2020-03-31"
        ) == sum(1 for i in range(total) if i % 12 == 2)


def test_100k_records_in_batches_are_searchable(live_server: Any, product: str) -> None:
    add_in_batches_then_search(live_server, product, 100_000)


def test_records_on_postgis(pg_server: Any, unique: str) -> None:
    alice = pg_server.client("alice")
    r = alice.post(f"{CAT}/products", json={"id": f"pg-{unique}", "title": "T", "description": "D"})
    pid = r.json()["data"]["id"]
    add_in_batches_then_search(pg_server, pid, 20_000)
    bad = grid_records(3, start=30_000)
    bad[1]["cloud_fraction"] = "cloudy"
    r = bulk(alice, pid, bad)
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["meta"] == {
        "index": 1,
        "id": "img-0030001",
        "field": "cloud_fraction",
    }
    r = bulk(alice, pid, grid_records(2, start=19_999))
    assert r.status_code == 409, r.text
    assert count(alice, pid) == 20_000


def test_one_bad_record_adds_nothing_and_is_named(alice: httpx.Client, product: str) -> None:
    records = grid_records(500)
    records[123]["acquired"] = "not a date"
    r = bulk(alice, product, records)
    assert r.status_code == 400, r.text
    errors = r.json()["errors"]
    assert len(errors) == 1
    assert errors[0]["meta"] == {"index": 123, "id": "img-0000123", "field": "acquired"}
    assert errors[0]["source"] == {"pointer": "/data/123/acquired"}
    assert "record 123" in errors[0]["detail"] and "not a date" in errors[0]["detail"]
    assert count(alice, product) == 0


def test_every_refused_record_is_named(alice: httpx.Client, product: str) -> None:
    records = grid_records(10)
    records[2]["geometry"] = box(0, 0, 500, 1)  # longitude out of range
    records[5]["bogus"] = 1  # unknown attribute
    records[7] = "not an object"  # type: ignore[call-overload]
    records[8]["id"] = "a/b"  # forbidden character
    r = bulk(alice, product, records)
    assert r.status_code == 400, r.text
    metas = [e["meta"] for e in r.json()["errors"]]
    assert [(m["index"], m["field"]) for m in metas] == [
        (2, "geometry"),
        (5, "bogus"),
        (7, None),
        (8, "id"),
    ]
    assert metas[0]["id"] == "img-0000002"
    assert count(alice, product) == 0


def test_duplicates_in_the_batch_and_existing_ids(alice: httpx.Client, product: str) -> None:
    records = grid_records(5)
    records[3]["id"] = records[1]["id"]
    r = bulk(alice, product, records)
    assert r.status_code == 400, r.text
    (err,) = r.json()["errors"]
    assert err["meta"] == {"index": 3, "id": "img-0000001", "field": "id"}
    assert "record 1" in err["detail"]

    assert bulk(alice, product, grid_records(5)).status_code == 201
    again = grid_records(4, start=3)  # img-3 and img-4 exist; img-5, img-6 are new
    r = bulk(alice, product, again)
    assert r.status_code == 409, r.text
    assert [(e["title"], e["meta"]["index"], e["meta"]["id"]) for e in r.json()["errors"]] == [
        ("Conflict", 0, "img-0000003"),
        ("Conflict", 1, "img-0000004"),
    ]
    assert count(alice, product) == 5
    # A full image id names the same image as its key.
    r = bulk(alice, product, [{"id": f"{product}:img-0000004"}])
    assert r.status_code == 409


def test_only_writers_of_the_product_add(
    live_server: Any, alice: httpx.Client, bob: httpx.Client, product: str
) -> None:
    records = grid_records(3)
    hidden = bulk(bob, product, records)
    assert hidden.status_code == 404, hidden.text
    bob_principal = "user:" + live_server.state.users.get_user("bob")["namespace"]
    r = alice.patch(f"{CAT}/products/{product}", json={"read": [bob_principal]})
    assert r.status_code == 200, r.text
    assert bulk(bob, product, records).status_code == 403
    r = alice.patch(f"{CAT}/products/{product}", json={"writers": [bob_principal]})
    r = bulk(bob, product, records)
    assert r.status_code == 201, r.text
    # An image with permissions of its own is an owner's decision, as for one image.
    r = bulk(bob, product, [{"id": "own", "read": ["group:x"]}])
    assert r.status_code == 403
    r = bulk(alice, product, [{"id": "own", "read": ["group:x"]}])
    assert r.status_code == 201
    doc = alice.get(f"{CAT}/products/{product}/images/own").json()["data"]["attributes"]
    assert doc["read"] == ["group:x"]
    assert count(alice, product) == 4
    assert httpx.post(f"{live_server.url}{CAT}/products/{product}/images/bulk").status_code == 401


def test_json_lines_stream(alice: httpx.Client, product: str) -> None:
    records = grid_records(50)
    body = "\n".join(json.dumps(r) for r in records) + "\n"
    r = alice.post(
        f"{CAT}/products/{product}/images/bulk",
        content=body,
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["meta"]["count"] == 50
    assert r.json()["data"][0] == {"id": f"{product}:img-0000000", "type": "image"}
    r = alice.post(
        f"{CAT}/products/{product}/images/bulk",
        content='{"id": "x"}\n{broken\n',
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code == 400
    assert r.json()["errors"][0]["meta"]["index"] == 1
    assert count(alice, product) == 50


def test_batch_limits(server_factory: Any) -> None:
    from rastercat.config import BulkSettings

    server = server_factory(bulk=BulkSettings(max_records=100, max_body_bytes=50_000))
    alice = server.client("alice")
    pid = alice.post(f"{CAT}/products", json={"id": "p", "title": "T", "description": "D"}).json()
    pid = pid["data"]["id"]
    r = bulk(alice, pid, grid_records(101))
    assert r.status_code == 400 and "RASTERCAT_BULK__MAX_RECORDS" in r.text
    r = bulk(alice, pid, grid_records(100) * 1)  # about 35 kB
    assert r.status_code == 201, r.text
    r = bulk(alice, pid, [{"id": "x" * 300, "notes": "y" * 60_000}])
    assert r.status_code == 413 and "RASTERCAT_BULK__MAX_BODY_BYTES" in r.text
    assert bulk(alice, pid, []).status_code == 400


def test_ten_thousand_typical_records_fit_the_default_cap() -> None:
    from rastercat.config import BulkSettings

    size = len(json.dumps({"data": grid_records(10_000)}))
    assert size < BulkSettings().max_body_bytes
    assert size > 4 * 2**20 * 0.5  # the general 4 MiB JSON cap would be close


def test_the_bulk_route_takes_bodies_over_the_general_json_cap(server_factory: Any) -> None:
    """The general cap on JSON bodies (``limits.max_request_body_bytes``) does not apply to the
    bulk route, which reads its body under its own cap; other routes keep the general one."""
    from rastercat.config import Limits

    server = server_factory(limits=Limits(max_request_body_bytes=20_000))
    alice = server.client("alice")
    pid = alice.post(f"{CAT}/products", json={"id": "p", "title": "T", "description": "D"}).json()
    pid = pid["data"]["id"]
    records = grid_records(200)
    assert len(json.dumps({"data": records})) > 20_000
    r = bulk(alice, pid, records)
    assert r.status_code == 201, r.text
    big = {"id": "q", "title": "T", "description": "x" * 30_000}
    assert alice.post(f"{CAT}/products", json=big).status_code == 413


def test_sdk_names_refused_records(live_server: Any, product: str) -> None:
    records = grid_records(3)
    records[2]["cloud_fraction"] = "x"
    with live_server.env("alice"):
        catalog = rc.Catalog()
        with pytest.raises(InvalidInput, match="record 2"):
            catalog.add_images(product, records)
        catalog.add_images(product, grid_records(2))
        with pytest.raises(Conflict, match="img-0000000"):
            catalog.add_images(product, grid_records(2), batch_size=1)


def test_openapi_documents_the_route(alice: httpx.Client) -> None:
    spec = alice.get("/openapi.json").json()
    op = spec["paths"]["/metadata/v1/catalog/products/{pid}/images/bulk"]["post"]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert schema["properties"]["data"]["items"]["properties"]["id"]["type"] == "string"
    assert "application/x-ndjson" in op["requestBody"]["content"]
    assert "201" in op["responses"]

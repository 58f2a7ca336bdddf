"""The guide's product steps through the real HTTP app and a real SQLite file."""

from __future__ import annotations

import hashlib

from api.conftest import CAT, error_detail


def test_add_product_returns_namespaced_id(alice, unique):
    r = alice.post(f"{CAT}/products", json={"id": f"example-product{unique}", "title": "Example Product",
                                             "description": "An example product"})  # fmt: skip
    assert r.status_code == 201
    doc = r.json()["data"]
    ns = hashlib.sha1(b"alice").hexdigest()
    assert doc["id"] == f"{ns}:example-product{unique}"
    assert doc["type"] == "product"
    assert doc["attributes"]["title"] == "Example Product"
    assert doc["attributes"]["owners"] == [f"user:{ns}"]
    assert doc["attributes"]["read"] == [] and doc["attributes"]["writers"] == []
    assert doc["meta"]["owner_type"] == "user"


def test_already_namespaced_id_is_not_prefixed_twice(alice, unique):
    ns = hashlib.sha1(b"alice").hexdigest()
    r = alice.post(
        f"{CAT}/products", json={"id": f"{ns}:x{unique}", "title": "T", "description": "D"}
    )
    assert r.json()["data"]["id"] == f"{ns}:x{unique}"


def test_get_change_replace_product(alice, product):
    assert alice.get(f"{CAT}/products/{product}").json()["data"]["id"] == product
    r = alice.patch(f"{CAT}/products/{product}", json={"notes": "n", "resolution": 15})
    assert r.status_code == 200
    attrs = r.json()["data"]["attributes"]
    assert attrs["notes"] == "n" and attrs["title"] == "T"
    r = alice.put(f"{CAT}/products/{product}", json={"title": "New", "description": "Desc"})
    attrs = r.json()["data"]["attributes"]
    assert attrs["title"] == "New" and attrs["notes"] is None


def test_duplicate_product_is_409(alice, product):
    short = product.split(":", 1)[1]
    r = alice.post(f"{CAT}/products", json={"id": short, "title": "T", "description": "D"})
    assert r.status_code == 409
    assert "already exists" in error_detail(r)


def test_remove_empty_product(alice, product):
    r = alice.delete(f"{CAT}/products/{product}", params={"cascade": "False"})
    assert r.status_code == 204
    assert r.headers["content-type"].startswith("text/plain")
    assert alice.get(f"{CAT}/products/{product}").status_code == 404


def test_remove_product_with_bands_needs_cascade(alice, product, band):
    r = alice.delete(f"{CAT}/products/{product}", params={"cascade": "False"})
    assert r.status_code == 409
    assert "cascade" in error_detail(r)
    assert alice.get(f"{CAT}/products/{product}/bands/blue").status_code == 200


def test_cascade_delete_returns_task_with_exact_content_type(alice, live_server, product, band):
    from helpers import wait_for

    r = alice.delete(f"{CAT}/products/{product}", params={"cascade": "True"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    task = r.json()["deletion_task"]
    assert "/" not in task
    status = wait_for(
        lambda: (s := alice.get(f"{CAT}/products/deletion_tasks/{task}").json())["completed"] and s,
        what="the deletion task",
    )
    assert status["task"]["status"]["total"] == 1
    assert status["response"]["deleted"] == 1
    assert alice.get(f"{CAT}/products/{product}").status_code == 404
    assert alice.get(f"{CAT}/products/{product}/bands/blue").status_code == 404


def test_own_products_and_bands(alice, product, band, live_server):
    r = alice.post("/metadata/v1/products/search", json={"owner": "alice"})
    assert r.status_code == 200
    assert product in [p["id"] for p in r.json()]
    r = alice.post("/metadata/v1/bands/search", json={"owner": "alice"})
    assert band in [b["id"] for b in r.json()]


def test_core_routes_are_forbidden(alice):
    assert alice.post(f"{CAT}/core/products", json={"id": "x"}).status_code == 403

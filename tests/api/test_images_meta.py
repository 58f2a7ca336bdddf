"""Image metadata without pixels: add, change, replace, get, remove."""

from __future__ import annotations

from api.conftest import CAT, error_detail

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


def test_image_lifecycle(alice, product):
    r = alice.post(f"{CAT}/products/{product}/images",
                   json={"id": "img1", "acquired": "2018-11-27T17:33:55Z", "geometry": SQUARE,
                         "cloud_fraction": 0.1, "extra_properties": {"source": "guide"}})  # fmt: skip
    assert r.status_code == 201, r.text
    doc = r.json()["data"]
    assert doc["id"] == f"{product}:img1"
    assert doc["attributes"]["acquired"] == "2018-11-27T17:33:55+00:00"
    assert doc["attributes"]["key"] == "img1"
    full = doc["id"]
    r = alice.patch(f"{CAT}/products/{product}/images/{full}", json={"cloud_fraction": 0.2})
    assert r.json()["data"]["attributes"]["cloud_fraction"] == 0.2
    assert r.json()["data"]["attributes"]["extra_properties"] == {"source": "guide"}
    r = alice.put(f"{CAT}/products/{product}/images/img1", json={"cloud_fraction": 0.3})
    assert "extra_properties" not in r.json()["data"]["attributes"]
    assert alice.get(f"{CAT}/products/{product}/images/img1").json()["data"]["id"] == full
    assert alice.delete(f"{CAT}/products/{product}/images/{full}").status_code == 204
    assert alice.get(f"{CAT}/products/{product}/images/img1").status_code == 404


def test_duplicate_image_is_409(alice, product):
    assert alice.post(f"{CAT}/products/{product}/images", json={"id": "a"}).status_code == 201
    assert alice.post(f"{CAT}/products/{product}/images", json={"id": "a"}).status_code == 409


def test_extra_properties_are_limited(alice, product):
    extra = {f"k{i}": i for i in range(11)}
    r = alice.post(f"{CAT}/products/{product}/images", json={"id": "b", "extra_properties": extra})
    assert r.status_code == 400
    assert "extra_properties" in error_detail(r)
    r = alice.post(
        f"{CAT}/products/{product}/images", json={"id": "b", "extra_properties": {"a": [1]}}
    )
    assert r.status_code == 400


def test_invalid_geometry_is_rejected(alice, product):
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    for geom in (bowtie, {"type": "Point", "coordinates": [0, 0]}, {"type": "Polygon"}):
        r = alice.post(f"{CAT}/products/{product}/images", json={"id": "g", "geometry": geom})
        assert r.status_code == 400, geom
        assert "geometry" in error_detail(r)
    assert alice.get(f"{CAT}/products/{product}/images/g").status_code == 404


def test_unknown_image_attribute(alice, product):
    r = alice.post(f"{CAT}/products/{product}/images", json={"id": "u", "colour": "red"})
    assert r.status_code == 400
    assert "colour" in error_detail(r)

"""Every validation rule answers 400 naming the field, and changes nothing."""

from __future__ import annotations

import pytest

from api.conftest import BLUE, CAT, error_detail


@pytest.mark.parametrize(
    "change, field",
    [
        ({"srcband": None}, "srcband"),
        ({"dtype": None}, "dtype"),
        ({"nbits": None}, "nbits"),
        ({"data_range": None}, "data_range"),
        ({"type": None}, "type"),
        ({"dtype": "Int64"}, "dtype"),
        ({"type": "rgb"}, "type"),
        ({"color": "Purple"}, "color"),
        ({"colormap_name": "rainbow-unicorn"}, "colormap_name"),
        ({"colormap": [[0, 0, 0, 0]] * 255}, "colormap"),
        ({"colormap": [[0, 0, 0]] * 256}, "colormap"),
        ({"colormap": [[0, 0, 0, 256]] * 256}, "colormap"),
        ({"colormap": [["a", 0, 0, 0]] * 256}, "colormap"),
        ({"data_range": [10, 0]}, "data_range"),
        ({"data_range": [0]}, "data_range"),
        ({"physical_range": ["a", "b"]}, "physical_range"),
        ({"default_range": [1, 0]}, "default_range"),
        ({"nbits": 17}, "nbits"),
        ({"dtype": "Byte", "nbits": 9}, "nbits"),
        ({"srcband": 0}, "srcband"),
        ({"srcfile": -1}, "srcfile"),
        ({"name": "bad/name"}, "name"),
        ({"name": "../x"}, "name"),
        ({"name": ""}, "name"),
        ({"wavelenght_min": 400}, "wavelenght_min"),
    ],
)
def test_band_validation(alice, product, change, field):
    body = {**BLUE, **change}
    body = {k: v for k, v in body.items() if v is not None}
    r = alice.post(f"{CAT}/products/{product}/bands", json=body)
    assert r.status_code == 400, r.text
    assert field in error_detail(r)
    bands = alice.post("/metadata/v1/bands/search", json={"products": [product]}).json()
    assert bands == []


def test_band_change_validation_keeps_band(alice, product, band):
    r = alice.patch(f"{CAT}/products/{product}/bands/blue", json={"dtype": "Float16"})
    assert r.status_code == 400
    assert (
        alice.get(f"{CAT}/products/{product}/bands/blue").json()["data"]["attributes"]["dtype"]
        == "UInt16"
    )
    r = alice.patch(f"{CAT}/products/{product}/bands/blue", json={"nbits": 40})
    assert r.status_code == 400 and "nbits" in error_detail(r)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"id": "x", "description": "D"}, "title"),
        ({"id": "x", "title": "T"}, "description"),
        ({"title": "T", "description": "D"}, "id"),
        ({"id": "a/b", "title": "T", "description": "D"}, "id"),
        ({"id": "a?b", "title": "T", "description": "D"}, "id"),
        ({"id": "a#b", "title": "T", "description": "D"}, "id"),
        ({"id": "a..b", "title": "T", "description": "D"}, "id"),
        ({"id": "a\nb", "title": "T", "description": "D"}, "id"),
        ({"id": "ok", "title": "T", "description": "D", "sensr": "x"}, "sensr"),
        ({"id": "ok", "title": "T", "description": "D", "read": "group:x"}, "read"),
        (
            {"id": "ok", "title": "T", "description": "D", "start_datetime": "yesterday"},
            "start_datetime",
        ),
    ],
)
def test_product_validation(alice, body, field):
    r = alice.post(f"{CAT}/products", json=body)
    assert r.status_code == 400, r.text
    assert field in error_detail(r)


def test_body_must_be_an_object(alice, product):
    r = alice.post(f"{CAT}/products", json=[1, 2])
    assert r.status_code == 400
    r = alice.post(
        f"{CAT}/products", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert "errors" in r.json()


def test_product_change_validation_keeps_product(alice, product):
    r = alice.patch(f"{CAT}/products/{product}", json={"title": 5, "bogus": 1})
    assert r.status_code == 400
    assert "bogus" in error_detail(r)
    assert alice.get(f"{CAT}/products/{product}").json()["data"]["attributes"]["title"] == "T"

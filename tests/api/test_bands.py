"""The guide's band steps: create, modify (colormaps), remove; names and full ids in routes."""

from __future__ import annotations

from api.conftest import BLUE, CAT, error_detail


def test_band_id_is_product_id_plus_name(alice, product):
    r = alice.post(f"{CAT}/products/{product}/bands", json=BLUE)
    assert r.status_code == 201
    doc = r.json()["data"]
    assert doc["id"] == f"{product}:blue"
    attrs = doc["attributes"]
    assert attrs["srcfile"] == 0 and attrs["jpx_layer"] == 0 and attrs["name"] == "blue"
    assert attrs["product"] == product
    assert doc["relationships"]["product"]["data"] == {"id": product, "type": "product"}


def test_band_routes_accept_name_and_full_id(alice, product, band):
    assert alice.get(f"{CAT}/products/{product}/bands/blue").json()["data"]["id"] == band
    assert alice.get(f"{CAT}/products/{product}/bands/{band}").json()["data"]["id"] == band


def test_change_band_colormap_name(alice, product, band):
    r = alice.patch(f"{CAT}/products/{product}/bands/{band}", json={"colormap_name": "magma"})
    assert r.status_code == 200
    assert r.json()["data"]["attributes"]["colormap_name"] == "magma"


def test_change_band_custom_colormap_of_strings(alice, product, band):
    cmap = [[str(i), str(255 - i), "3", "255"] for i in range(256)]
    r = alice.patch(f"{CAT}/products/{product}/bands/{band}", json={"colormap": cmap})
    assert r.status_code == 200
    attrs = r.json()["data"]["attributes"]
    assert attrs["colormap"][7] == ["7", "248", "3", "255"]
    assert attrs["color"] == "Palette"


def test_replace_band(alice, product, band):
    body = {k: v for k, v in BLUE.items() if k != "name"} | {"nbits": 16, "description": "d"}
    r = alice.put(f"{CAT}/products/{product}/bands/blue", json=body)
    assert r.status_code == 200
    assert r.json()["data"]["attributes"]["nbits"] == 16


def test_duplicate_band_is_409(alice, product, band):
    r = alice.post(f"{CAT}/products/{product}/bands", json=BLUE)
    assert r.status_code == 409
    assert "blue" in error_detail(r)


def test_remove_band(alice, product, band):
    assert alice.delete(f"{CAT}/products/{product}/bands/{band}").status_code == 204
    assert alice.get(f"{CAT}/products/{product}/bands/blue").status_code == 404


def test_guide_mask_bands(alice, product):
    for name, srcfile in (("cloud-mask", 0), ("bright-mask", 1)):
        r = alice.post(f"{CAT}/products/{product}/bands", json=dict(
            name=name, jpx_layer=0, srcfile=srcfile, srcband=1, nbits=1, dtype="UInt16", nodata=0,
            data_range=[0, 1], type="mask"))  # fmt: skip
        assert r.status_code == 201, r.text
    r = alice.post(f"{CAT}/products/{product}/bands", json=dict(
        name="bright", jpx_layer=0, srcfile=0, srcband=1, default_range=[0, 1], nbits=1, color="Gray",
        dtype="Uint16", data_range=[0, 1], nodata=None, type="mask"))  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["data"]["attributes"]["dtype"] == "UInt16"

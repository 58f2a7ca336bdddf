"""XYZ tiles and TileJSON through the real HTTP app, on images uploaded and ingested by the server."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest
from _tile_helpers import inside, pixel_lonlat, rgba, tile_at

from rastercat.raster.colormaps import named_colormap
from tiles.conftest import CUSTOM, TileProduct

M = 0.003  # degrees kept clear of every edge: about two pixels of a zoom-10 tile
IMAGE = (10.0, 44.744, 10.256, 45.0)
HOLE = (10.0, 44.872, 10.128, 45.0)


def grow(box: tuple[float, ...], d: float) -> tuple[float, float, float, float]:
    return box[0] - d, box[1] - d, box[2] + d, box[3] + d


def centre_tile(z: int = 10) -> tuple[int, int, int]:
    return tile_at(10.128, 44.872, z)


def tile_url(tp: TileProduct, z: int, x: int, y: int, fmt: str = "png", image: bool = True) -> str:
    if image:
        return f"/tiles/v1/images/{tp.image_id}/{z}/{x}/{y}.{fmt}"
    return f"/tiles/v1/products/{tp.pid}/{z}/{x}/{y}.{fmt}"


def get_tile(client: httpx.Client, url: str, **params: Any) -> np.ndarray:
    r = client.get(url, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    return rgba(r.content)


@pytest.mark.parametrize("image", [True, False], ids=["image", "product"])
def test_tile_is_opaque_inside_and_transparent_outside_and_on_nodata(
    alice: httpx.Client, tile_product: TileProduct, image: bool
) -> None:
    z, x, y = centre_tile()
    px = get_tile(alice, tile_url(tile_product, z, x, y, image=image), bands="green")
    lon, lat = pixel_lonlat(z, x, y)
    data = inside(lon, lat, *grow(IMAGE, -M)) & ~inside(lon, lat, *grow(HOLE, M))
    empty = ~inside(lon, lat, *grow(IMAGE, M)) | inside(lon, lat, *grow(HOLE, -M))
    assert data.sum() > 1000 and empty.sum() > 1000
    alpha = px[..., 3]
    assert (alpha[data] == 255).all()
    assert (alpha[empty] == 0).all()
    # green is 100 in a [0, 255] data_range: shown as grey 100
    assert (px[data][:, :3] == 100).all()


def test_custom_colormap_of_the_band_is_applied(
    alice: httpx.Client, tile_product: TileProduct
) -> None:
    px = get_tile(alice, tile_url(tile_product, *centre_tile()), bands="red")
    opaque = px[..., 3] == 255
    assert opaque.any()
    assert (px[opaque] == [int(c) for c in CUSTOM[10]]).all()


def test_named_colormap_of_the_band_is_applied_after_the_stretch(
    alice: httpx.Client, tile_product: TileProduct
) -> None:
    px = get_tile(alice, tile_url(tile_product, *centre_tile()), bands="mag")
    opaque = px[..., 3] == 255
    # 100 in the band's data_range [0, 200] is 127.5 -> 128 of magma
    assert (px[opaque] == named_colormap("magma")[128]).all()


def test_colormap_and_rescale_given_in_the_request(
    alice: httpx.Client, tile_product: TileProduct
) -> None:
    url = tile_url(tile_product, *centre_tile())
    px = get_tile(alice, url, bands="green", colormap="viridis", rescale="0,400")
    opaque = px[..., 3] == 255
    assert (px[opaque] == named_colormap("viridis")[64]).all()  # 100 / 400 * 255 = 63.75
    custom = '{"100": [1, 2, 3, 255]}'
    px = get_tile(alice, url, bands="green", colormap=custom)
    assert (px[px[..., 3] == 255] == [1, 2, 3, 255]).all()


def test_three_bands_make_rgb_with_and_without_rescale(
    alice: httpx.Client, tile_product: TileProduct
) -> None:
    url = tile_url(tile_product, *centre_tile())
    px = get_tile(alice, url, bands="red,green,blue")
    opaque = px[..., 3] == 255
    assert opaque.any()
    assert (px[opaque][:, :3] == [10, 100, 200]).all()  # no colormap on RGB, even red's
    px = get_tile(alice, url, bands=["red", "green", "blue"], rescale="0,200")
    assert (px[px[..., 3] == 255][:, :3] == [13, 128, 255]).all()
    px = get_tile(alice, url, bands="red,green,blue", rescale=["0,20", "0,200", "0,400"])
    assert (px[px[..., 3] == 255][:, :3] == [128, 128, 128]).all()


def test_webp_tiles(alice: httpx.Client, tile_product: TileProduct) -> None:
    r = alice.get(tile_url(tile_product, *centre_tile(), fmt="webp"), params={"bands": "green"})
    assert r.status_code == 200 and r.headers["content-type"] == "image/webp"
    assert (rgba(r.content)[..., 3] == 255).any()


def test_tile_outside_every_image_is_a_transparent_png(
    alice: httpx.Client, tile_product: TileProduct
) -> None:
    for image in (True, False):
        px = get_tile(alice, tile_url(tile_product, 12, 0, 0, image=image))
        assert px.shape == (256, 256, 4) and (px[..., 3] == 0).all()


def test_etag_and_if_none_match(alice: httpx.Client, tile_product: TileProduct) -> None:
    for image in (True, False):
        url = tile_url(tile_product, *centre_tile(), image=image)
        first = alice.get(url, params={"bands": "green"})
        etag = first.headers["etag"]
        assert first.headers["cache-control"].startswith("private")
        again = alice.get(url, params={"bands": "green"}, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        other = alice.get(url, params={"bands": "blue"}, headers={"If-None-Match": etag})
        assert other.status_code == 200 and other.headers["etag"] != etag


def test_another_user_gets_404_and_no_token_gets_401(
    alice: httpx.Client, bob: httpx.Client, live_server: Any, tile_product: TileProduct
) -> None:
    z, x, y = centre_tile()
    for url in (
        tile_url(tile_product, z, x, y),
        tile_url(tile_product, z, x, y, image=False),
        f"/tiles/v1/images/{tile_product.image_id}/tilejson.json",
        f"/tiles/v1/products/{tile_product.pid}/tilejson.json",
    ):
        assert bob.get(url).status_code == 404, url
        with httpx.Client(base_url=live_server.url) as anonymous:
            assert anonymous.get(url).status_code == 401, url
    assert alice.get(f"/tiles/v1/images/{tile_product.pid}:nope/{z}/{x}/{y}.png").status_code == 404


def test_token_in_the_query_string_works_like_the_header(
    live_server: Any, tile_product: TileProduct
) -> None:
    token = live_server.token("tiles-alice")
    with httpx.Client(base_url=live_server.url) as plain:
        r = plain.get(tile_url(tile_product, *centre_tile()), params={"token": token})
    assert r.status_code == 200 and (rgba(r.content)[..., 3] == 255).any()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bands": "nope"}, "nope"),
        ({"bands": "red,green"}, "1 band or 3"),
        ({"rescale": "0"}, "rescale"),
        ({"colormap": "no-such-map"}, "colormap"),
        ({"colormap": "[[1, 2]]"}, "colormap"),
        ({"resampling": "sideways"}, "resampl"),
        ({"order": "random"}, "order"),
    ],
)
def test_bad_tile_requests_are_400(
    alice: httpx.Client, tile_product: TileProduct, params: dict, field: str
) -> None:
    r = alice.get(tile_url(tile_product, *centre_tile(), image=False), params=params)
    assert r.status_code == 400, r.text
    assert field in r.json()["errors"][0]["detail"]


def test_bad_tile_addresses(alice: httpx.Client, tile_product: TileProduct) -> None:
    assert alice.get(tile_url(tile_product, 2, 4, 0)).status_code == 400
    assert alice.get(tile_url(tile_product, *centre_tile(), fmt="gif")).status_code == 400


def test_tilejson_documents(
    alice: httpx.Client, live_server: Any, tile_product: TileProduct
) -> None:
    r = alice.get(
        f"/tiles/v1/products/{tile_product.pid}/tilejson.json",
        params={"bands": "mag", "token": "t0k"},
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["tilejson"] == "2.2.0" and doc["scheme"] == "xyz"
    assert doc["tiles"] == [
        f"{live_server.url}/tiles/v1/products/{tile_product.pid}/{{z}}/{{x}}/{{y}}.png"
        "?bands=mag&token=t0k"
    ]
    assert doc["bounds"] == pytest.approx(list(IMAGE), abs=1e-6)
    assert 0 <= doc["minzoom"] < doc["maxzoom"] <= 22
    # 0.001 degree pixels (about 79 m here): zoom 11's pixels (76 m) are the first finer ones
    assert doc["maxzoom"] == 11
    lon, lat, zoom = doc["center"]
    assert lon == pytest.approx(10.128) and lat == pytest.approx(44.872) and zoom <= doc["maxzoom"]

    image_doc = alice.get(
        f"/tiles/v1/images/{tile_product.image_id}/tilejson.json", params={"format": "webp"}
    ).json()
    assert image_doc["tiles"][0].endswith(f"/images/{tile_product.image_id}/{{z}}/{{x}}/{{y}}.webp")
    assert image_doc["bounds"] == pytest.approx(list(IMAGE), abs=1e-6)


def test_tiles_render_in_slots_of_their_own(
    live_server: Any, alice: httpx.Client, tile_product: TileProduct
) -> None:
    """Tiles take the tile slots (``limits.max_concurrent_tiles``), never the read slots that
    raster reads hold for seconds under load; raster reads take the read slots."""
    state = live_server.state
    tiles_before, reads_before = state.tile_slots.peak, state.read_slots.peak
    state.tile_slots.peak = state.read_slots.peak = 0
    try:
        z, x, y = centre_tile()
        for image in (True, False):
            get_tile(alice, tile_url(tile_product, z, x, y, image=image))
        assert state.tile_slots.peak == 1 and state.read_slots.peak == 0
        r = alice.post("/raster/v1/npz", json={"ids": [tile_product.image_id], "bands": ["red"],
                                              "resolution": 0.01, "srs": "EPSG:4326"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert state.read_slots.peak == 1
        assert state.tile_slots.total == live_server.settings.limits.concurrent_tiles()
    finally:
        state.tile_slots.peak = max(tiles_before, state.tile_slots.peak)
        state.read_slots.peak = max(reads_before, state.read_slots.peak)

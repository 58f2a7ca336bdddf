"""Tile ETags and Cache-Control through the real HTTP app: stable for the same inputs, new when what
a tile draws changes, a 304 on a match, and never a 304 (or any hint) for a caller who may not read
the tile."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from _tile_helpers import tile_at

from rastercat.client.catalog import Catalog
from tiles.conftest import TileProduct, add_bands, image_array

Z, X, Y = tile_at(10.128, 44.872, 10)  # the centre of the 256 x 256 image at (10 E, 45 N)
PARAMS = {"bands": "green"}


@pytest.fixture
def fresh(live_server: Any, tmp_path: Any) -> Iterator[tuple[Catalog, TileProduct]]:
    """A product of its own (images get added and removed), with one image."""
    with Catalog(url=live_server.url, token=live_server.token("cache-alice")) as catalog:
        name = f"cache-{uuid.uuid4().hex[:10]}"
        pid = catalog.add_product(name, title="Caching", description="tile caching")["data"]["id"]
        add_bands(catalog, pid)
        tp = TileProduct(pid, "", tmp_path)
        tp.image_id = tp.upload(catalog, "one", image_array(10, 100, 200), "2018-01-01T00:00:00Z")
        yield catalog, tp


@pytest.fixture
def alice(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client("cache-alice") as c:
        yield c


def urls(tp: TileProduct) -> list[str]:
    return [
        f"/tiles/v1/products/{tp.pid}/{Z}/{X}/{Y}.png",
        f"/tiles/v1/images/{tp.image_id}/{Z}/{X}/{Y}.png",
    ]


def etag(client: httpx.Client, url: str, **params: Any) -> str:
    r = client.get(url, params={**PARAMS, **params})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "private, max-age=60"
    return r.headers["etag"]


def test_etag_is_stable_and_a_match_is_a_304(
    alice: httpx.Client, fresh: tuple[Catalog, TileProduct]
) -> None:
    _, tp = fresh
    for url in urls(tp):
        tag = etag(alice, url)
        assert tag.startswith('"') and tag.endswith('"')
        assert etag(alice, url) == tag
        r = alice.get(url, params=PARAMS, headers={"If-None-Match": f'"other", {tag}'})
        assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == tag
        assert r.headers["cache-control"] == "private, max-age=60"
        for header in ("*", f"W/{tag}"):
            assert (
                alice.get(url, params=PARAMS, headers={"If-None-Match": header}).status_code == 304
            )
        # Another rendering of the same tile is another ETag.
        assert etag(alice, url, rescale="0,50") != tag
        assert etag(alice, url, colormap="viridis") != tag
        stale = alice.get(url, params=PARAMS, headers={"If-None-Match": '"stale"'})
        assert stale.status_code == 200 and stale.content[:4] == b"\x89PNG"


def test_product_etag_changes_when_an_image_is_added_changed_or_removed(
    alice: httpx.Client, fresh: tuple[Catalog, TileProduct]
) -> None:
    catalog, tp = fresh
    url = urls(tp)[0]
    first = etag(alice, url)
    # An image elsewhere does not draw on this tile: same ETag.
    tp.upload(catalog, "far", image_array(1, 2, 3), "2019-01-01T00:00:00Z", origin=(20.0, 45.0))
    assert etag(alice, url) == first
    tp.upload(catalog, "two", image_array(50, 50, 50, hole=False), "2019-01-01T00:00:00Z")
    added = etag(alice, url)
    assert added != first
    assert alice.get(url, params=PARAMS, headers={"If-None-Match": first}).status_code == 200
    catalog.change_image(tp.pid, "two", cloud_fraction=0.5)
    changed = etag(alice, url)
    assert changed not in (first, added)
    catalog.remove_image(tp.pid, "two")
    assert etag(alice, url) not in (added, changed)


def test_image_etag_changes_when_the_image_changes(
    alice: httpx.Client, fresh: tuple[Catalog, TileProduct]
) -> None:
    catalog, tp = fresh
    url = urls(tp)[1]
    first = etag(alice, url)
    catalog.change_image(tp.pid, "one", cloud_fraction=0.25)
    assert etag(alice, url) != first


def test_no_304_and_no_etag_for_a_caller_who_may_not_read_the_tile(
    alice: httpx.Client, live_server: Any, fresh: tuple[Catalog, TileProduct]
) -> None:
    _, tp = fresh
    with live_server.client("cache-mallory") as mallory:
        for url in urls(tp):
            tag = etag(alice, url)
            for headers in ({"If-None-Match": tag}, {"If-None-Match": "*"}, {}):
                r = mallory.get(url, params=PARAMS, headers=headers)
                assert r.status_code == 404, (url, r.status_code)
                assert "etag" not in r.headers
            with httpx.Client(base_url=live_server.url) as anonymous:
                r = anonymous.get(url, params=PARAMS, headers={"If-None-Match": tag})
                assert r.status_code == 401 and "etag" not in r.headers

"""The viewer's page, its packaged static files (and favicon), local sign-in, the recent-uploads
list and the colormap tables of its legend."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from tiles.conftest import TileProduct


def test_viewer_page_and_packaged_leaflet_are_served(live_server: Any) -> None:
    with httpx.Client(base_url=live_server.url) as c:
        page = c.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "/viewer/static/vendor/leaflet/leaflet.js" in page.text
        for path in ("vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "app.js",
                     "viewer.css", "vendor/leaflet/images/layers.png", "core.js", "basemap.js",
                     "display.js", "images.js", "point.js", "uploads.js", "manage.js",
                     "favicon.ico"):  # fmt: skip
            r = c.get(f"/viewer/static/{path}")
            assert r.status_code == 200 and r.content, path
        for ref in re.findall(r'(?:src|href)="(/[^"]+)"', page.text):  # all the page loads
            assert c.get(ref).status_code == 200, ref
        assert c.get("/viewer/static/nope.js").status_code == 404
        assert c.get("/viewer", follow_redirects=False).status_code in (302, 307)


def test_local_token_only_for_local_requests_of_a_served_data_dir(server_factory: Any) -> None:
    server = server_factory(local_signin=True)  # as `rastercat serve` on 127.0.0.1
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/viewer/v1/local-token").status_code == 404  # no rastercat serve here
        token = server.token("local")
        (server.settings.data_dir / "local-credentials.json").write_text(
            json.dumps({"url": server.url, "token": token})
        )
        r = c.get("/viewer/v1/local-token")
        assert r.status_code == 200 and r.json() == {"token": token}
        assert (
            c.get("/whoami", headers={"Authorization": r.json()["token"]}).json()["name"] == "local"
        )
        proxied = c.get("/viewer/v1/local-token", headers={"X-Forwarded-For": "203.0.113.9"})
        assert proxied.status_code == 404
        rebound = c.get("/viewer/v1/local-token", headers={"Host": "evil.example:8765"})
        assert rebound.status_code == 404
        assert c.get("/viewer/v1/local-token", headers={"Host": "localhost:1"}).status_code == 200


def test_recent_uploads_are_the_callers_own_newest_first(
    alice: httpx.Client, bob: httpx.Client, tile_product: TileProduct
) -> None:
    r = alice.get("/viewer/v1/uploads/recent", params={"limit": 50})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    mine = [u for u in data if u["attributes"]["product_id"] == tile_product.pid]
    assert mine and mine[0]["attributes"]["status"] == "SUCCESS"
    assert mine[0]["attributes"]["image_id"] == tile_product.image_id
    created = [u["attributes"]["created"] for u in data]
    assert created == sorted(created, reverse=True)
    theirs = bob.get("/viewer/v1/uploads/recent").json()["data"]
    assert all(u["attributes"]["product_id"] != tile_product.pid for u in theirs)
    assert alice.get("/viewer/v1/uploads/recent", params={"limit": 0}).status_code == 400
    with httpx.Client(base_url=str(alice.base_url)) as anonymous:
        assert anonymous.get("/viewer/v1/uploads/recent").status_code == 401


def test_favicon_is_served_from_the_package(live_server: Any) -> None:
    with httpx.Client(base_url=live_server.url) as c:
        r = c.get("/favicon.ico")
        assert r.status_code == 200 and r.headers["content-type"] == "image/x-icon"
        assert r.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
        assert '<link rel="icon" href="/favicon.ico">' in c.get("/").text


def test_viewer_config_says_whether_a_local_sign_in_exists(server_factory: Any) -> None:
    """The page asks only where ``/viewer/v1/local-token`` would answer: the two follow one rule."""
    server = server_factory(local_signin=True)
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/viewer/v1/config").json() == {"local_sign_in": False}  # no credentials yet
        (server.settings.data_dir / "local-credentials.json").write_text(
            json.dumps({"url": server.url, "token": server.token("local")})
        )
        assert c.get("/viewer/v1/config").json() == {"local_sign_in": True}
        assert c.get("/viewer/v1/local-token").status_code == 200
        proxied = {"X-Forwarded-For": "203.0.113.9"}
        assert c.get("/viewer/v1/config", headers=proxied).json() == {"local_sign_in": False}
        assert c.get("/viewer/v1/local-token", headers=proxied).status_code == 404


def test_viewer_config_offers_no_local_sign_in_when_it_is_off(server_factory: Any) -> None:
    server = server_factory()  # local_signin is off unless `serve` binds a loopback address
    (server.settings.data_dir / "local-credentials.json").write_text(
        json.dumps({"url": server.url, "token": server.token("local")})
    )
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/viewer/v1/config").json() == {"local_sign_in": False}
        assert c.get("/viewer/v1/local-token").status_code == 404


def test_colormap_tables_for_the_legend(live_server: Any) -> None:
    from rastercat.raster.colormaps import named_colormap

    with httpx.Client(base_url=live_server.url) as c:
        r = c.get("/viewer/v1/colormaps/magma")
        assert r.status_code == 200
        colors = r.json()["colors"]
        assert len(colors) == 256
        assert colors == [list(named_colormap("magma")[i]) for i in range(256)]
        bad = c.get("/viewer/v1/colormaps/nope")
        assert bad.status_code == 400 and bad.json()["errors"][0]["source"]["pointer"] == "colormap"

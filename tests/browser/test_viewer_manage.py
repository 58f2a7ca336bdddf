"""The viewer in a real browser, changing things: uploads by drag and drop, sharing a product, and
deleting an image or a product; and what a reader who may change nothing sees. Each test makes a
product of its own. Every test fails on a console error (see conftest.Viewer)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

import httpx

from browser.conftest import (
    IMAGES,
    OWNER,
    PIXEL,
    READER,
    TILE_ALPHA_AT,
    Viewer,
    bands_array,
    expected_values,
    make_product,
    page_point,
)
from helpers import wait_for, write_geotiff

#: Drops files on the map the way a browser does: dragenter, dragover, drop with a DataTransfer.
DROP = """([files, stopAt]) => {
  const dt = new DataTransfer();
  for (const [name, b64] of files) {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    dt.items.add(new File([bytes], name, { type: 'application/octet-stream' }));
  }
  const target = document.getElementById('map');
  for (const type of ['dragenter', 'dragover', 'drop']) {
    target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: dt }));
    if (type === stopAt) return;
  }
}"""


def _files(*paths: Path) -> list[list[str]]:
    return [[p.name, base64.b64encode(p.read_bytes()).decode()] for p in paths]


def _api(live_server: Any, token: str) -> httpx.Client:
    return httpx.Client(base_url=live_server.url, headers={"Authorization": token}, timeout=30)


def test_dropped_files_upload_with_progress_and_appear(
    viewer: Viewer, live_server: Any, tmp_path: Path
) -> None:
    product = make_product(live_server, tmp_path, names=("a",))
    (x0, y0), _, offset = IMAGES["b"]
    (tmp_path / "drop").mkdir()
    good = write_geotiff(tmp_path / "drop" / "b.tif", bands_array(offset), crs="EPSG:4326",
                         transform=(x0, PIXEL, 0.0, y0, 0.0, -PIXEL), nodata=0)  # fmt: skip
    broken = tmp_path / "drop" / "broken.tif"
    broken.write_bytes(b"II*\x00 this is not really a TIFF" * 10)
    notes = tmp_path / "drop" / "notes.txt"
    notes.write_text("not a raster")

    page = viewer.page
    viewer.open(product.owner_token)
    viewer.choose(product.pid)
    assert page.locator("path.rc-footprint").count() == 1
    page.evaluate(DROP, [_files(good), "dragenter"])
    page.wait_for_selector("#dropzone:not([hidden])")
    assert "Alpine test scenes" in page.locator("#dropzone").inner_text()
    viewer.screenshot("drop")

    page.evaluate(DROP, [_files(good, broken, notes), "drop"])
    page.wait_for_selector("#dropzone", state="hidden")
    done = page.locator('#transfers li[data-name="b.tif"][data-state="done"]')
    done.wait_for()
    assert done.locator(".bar").evaluate("b => b.style.width") == "100%"
    assert done.locator(".status").inner_text() == "ready"
    failed = page.locator('#transfers li[data-name="broken.tif"][data-state="failed"]')
    failed.wait_for()
    assert failed.locator(".error").inner_text() != ""
    refused = page.locator('#transfers li[data-name="notes.txt"][data-state="failed"]')
    refused.wait_for()
    assert "GeoTIFF" in refused.inner_text()

    # The new image appears: footprints, tiles (new URLs, not the cached ones) and pixels.
    page.wait_for_function("() => document.querySelectorAll('path.rc-footprint').length === 2")
    viewer.wait_tiles()
    bx, by = page_point(viewer, 6.85, 45.55)  # inside b, outside a
    assert page.evaluate(TILE_ALPHA_AT, [bx, by]) == 255
    with _api(live_server, product.owner_token) as api:
        image = api.get(f"/metadata/v1/get/{product.pid}:b")
        assert image.status_code == 200
        upload = api.get(f"/metadata/v1/catalog/products/{product.pid}/uploads/b.tif").json()
        assert upload["data"]["attributes"]["status"] == "SUCCESS"
    x, y = page_point(viewer, 6.45, 45.68)
    page.mouse.click(x, y)
    page.wait_for_selector("#point-table")
    point = page.evaluate("() => window.rcViewer.state.lastPoint")
    by_id = {d["image_id"]: d["values"] for d in point["data"]}
    assert by_id[f"{product.pid}:b"] == expected_values("b", point["lon"], point["lat"])
    viewer.close_popup()
    page.locator("#transfers").scroll_into_view_if_needed()
    viewer.screenshot("upload")


def test_an_owner_shares_the_product_with_a_user(
    viewer: Viewer, live_server: Any, tmp_path: Path
) -> None:
    product = make_product(live_server, tmp_path, names=("a",))
    reader_entry = "user:" + hashlib.sha1(READER.encode()).hexdigest()
    page = viewer.page
    viewer.open(product.owner_token)
    viewer.choose(product.pid)
    page.locator("#share-button").click()
    page.wait_for_selector("#share[open]")
    owner_row = page.locator("#share-table tr[data-role=owners]")
    assert owner_row.count() == 1 and f"{OWNER} (you)" in owner_row.inner_text()
    page.select_option("#share-kind", "user")
    page.locator("#share-name").fill(READER)
    page.select_option("#share-role", "read")
    page.locator("#share-add").click()
    added = page.locator(f'#share-table tr[data-entry="{reader_entry}"][data-role=read]')
    added.wait_for()
    assert f"{READER} (user)" in added.inner_text()
    page.select_option("#share-kind", "group")
    page.locator("#share-name").fill("hydrologists")
    page.select_option("#share-role", "writers")
    page.locator("#share-add").click()
    page.wait_for_selector('#share-table tr[data-entry="group:hydrologists"][data-role=writers]')
    viewer.screenshot("share")

    with _api(live_server, product.owner_token) as api:
        attrs = api.get(f"/metadata/v1/catalog/products/{product.pid}").json()["data"]["attributes"]
        assert attrs["read"] == [reader_entry] and attrs["writers"] == ["group:hydrologists"]
    with _api(live_server, product.reader_token) as reader:
        # "also its bands and images" was checked: the image becomes readable too.
        wait_for(lambda: reader.get(f"/metadata/v1/get/{product.pid}:a").status_code == 200,
                 what="the image shared with the reader")  # fmt: skip

    page.locator(f'#share-table tr[data-entry="{reader_entry}"] button').click()
    page.wait_for_selector(f'#share-table tr[data-entry="{reader_entry}"]', state="detached")
    page.locator("#share button[value=close]").click()
    with _api(live_server, product.reader_token) as reader:
        wait_for(lambda: reader.get(f"/metadata/v1/products/{product.pid}").status_code == 404,
                 what="the product hidden from the reader again")  # fmt: skip


def test_an_owner_deletes_an_image_then_the_product(
    viewer: Viewer, live_server: Any, tmp_path: Path
) -> None:
    product = make_product(live_server, tmp_path, names=("a", "b"))
    page = viewer.page
    viewer.open(product.owner_token)
    viewer.choose(product.pid)
    x, y = page_point(viewer, 6.7, 45.6)  # image b only
    page.mouse.click(x, y)
    page.wait_for_selector("#delete-image")
    viewer.close_popup()

    # Cancelling changes nothing.
    page.locator("#delete-image").click()
    page.wait_for_selector("#confirm[open]")
    page.locator("#confirm button[value=cancel]").click()
    with _api(live_server, product.owner_token) as api:
        assert api.get(f"/metadata/v1/get/{product.pid}:b").status_code == 200

    page.locator("#delete-image").click()
    page.wait_for_selector("#confirm[open]")
    assert f"{product.pid}:b" in page.locator("#confirm-message").inner_text()
    viewer.screenshot("delete-image")
    page.locator("#confirm-ok").click()
    page.wait_for_function("() => document.querySelectorAll('path.rc-footprint').length === 1")
    with _api(live_server, product.owner_token) as api:
        assert api.get(f"/metadata/v1/get/{product.pid}:b").status_code == 404

    # Escape cancels too (even right after an OK of the same dialog).
    page.locator("#delete-product").click()
    page.wait_for_selector("#confirm[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#confirm:not([open])", state="attached")
    assert page.locator("#deletion").is_hidden()
    with _api(live_server, product.owner_token) as api:
        assert api.get(f"/metadata/v1/products/{product.pid}").status_code == 200

    page.locator("#delete-product").click()
    page.wait_for_selector("#confirm[open]")
    assert "Alpine test scenes" in page.locator("#confirm-message").inner_text()
    page.locator("#confirm-ok").click()
    page.wait_for_selector("#deletion[data-state=SUCCESS]")
    assert page.locator("#deletion-bar").evaluate("b => b.style.width") == "100%"
    assert "1 of 1" in page.locator("#deletion-status").inner_text() or "deleted" in (
        page.locator("#deletion-status").inner_text()
    )
    assert page.locator(f'#product option[value="{product.pid}"]').count() == 0
    assert page.locator("#product").input_value() == ""
    viewer.screenshot("deletion")
    with _api(live_server, product.owner_token) as api:
        assert api.get(f"/metadata/v1/products/{product.pid}").status_code == 404
        assert api.get(f"/metadata/v1/get/{product.pid}:a").status_code == 404


def test_a_reader_sees_values_but_no_owner_actions(
    viewer: Viewer, live_server: Any, tmp_path: Path
) -> None:
    product = make_product(live_server, tmp_path, names=("a",))
    reader_entry = "user:" + hashlib.sha1(READER.encode()).hexdigest()
    with _api(live_server, product.owner_token) as api:
        r = api.patch(
            f"/metadata/v1/catalog/products/{product.pid}",
            params={"set_global_permissions": "true"},
            json={"read": [reader_entry]},
        )
        assert r.status_code == 200, r.text
    with _api(live_server, product.reader_token) as reader:
        wait_for(lambda: reader.get(f"/metadata/v1/get/{product.pid}:a").status_code == 200,
                 what="the image shared with the reader")  # fmt: skip
    page = viewer.page
    viewer.open(product.reader_token)
    assert page.locator("#whoami").inner_text() == READER
    viewer.choose(product.pid)
    assert page.locator("#product-actions").is_hidden()
    assert "not upload" in page.locator("#drop-hint").inner_text()
    x, y = page_point(viewer, 6.2, 45.8)
    page.mouse.click(x, y)
    page.wait_for_selector("#point-table")
    assert page.locator("#delete-image").count() == 0
    point = page.evaluate("() => window.rcViewer.state.lastPoint")
    assert point["data"][0]["values"] == expected_values("a", point["lon"], point["lat"])
    page.evaluate(DROP, [[["x.tif", "AAAA"]], "drop"])
    page.wait_for_function("() => !document.querySelector('#toast').hidden")
    assert "write to" in page.locator("#toast").inner_text()
    assert page.locator("#transfers li").count() == 0

    # Signing out leaves nothing of the reader's behind; the owner then sees their own product.
    page.locator("#signout").click()
    page.wait_for_selector("#signin:not([hidden])")
    assert page.evaluate(
        "() => window.rcViewer.state.tiles === null && !window.rcViewer.state.footprints"
    )
    assert page.locator("#product option").count() == 1
    page.wait_for_selector(".leaflet-popup", state="detached")
    page.locator("#token-input").fill(product.owner_token)
    page.locator("#signin-form button").click()
    page.wait_for_selector("#signin", state="hidden")
    assert page.locator("#whoami").inner_text() == OWNER
    viewer.choose(product.pid)
    assert page.locator("#product-actions").is_visible()


def test_user_namespaces_without_webcrypto(viewer: Viewer, live_server: Any) -> None:
    """Plain-http servers elsewhere than localhost have no crypto.subtle: the fallback SHA-1 must
    give the same namespaces."""
    viewer.open(live_server.token("viewer-gazer"))
    names = ["viewer-erin", "", "é漢字", "x" * 55, "y" * 56, "z" * 200]
    got = viewer.page.evaluate(
        "async (names) => { Object.defineProperty(window.crypto, 'subtle', {value: undefined,"
        " configurable: true}); const out = [window.crypto.subtle === undefined]; for (const n of names)"
        " out.push(await window.rcViewer.sha1(n)); return out; }",
        names,
    )
    assert got == [True] + [hashlib.sha1(n.encode()).hexdigest() for n in names]

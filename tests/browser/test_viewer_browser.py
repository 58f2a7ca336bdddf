"""The viewer in a real browser: Playwright drives Debian's Chromium against a live server.

Skipped when Playwright or /usr/bin/chromium is missing, except in CI (``CI`` set), where that is
a failure: CI must install both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import write_geotiff
from rastercat.client.catalog import Catalog

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT_MS = 30_000

#: Counts the non-transparent pixels of the loaded tiles of the current tile layer (same origin,
#: so drawing them onto a canvas does not taint it).
OPAQUE_TILE_PIXELS = """(needle) => {
  let count = 0;
  for (const img of document.querySelectorAll('img.leaflet-tile-loaded')) {
    if (!img.src.includes(needle) || !img.naturalWidth) continue;
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) count++;
  }
  return count;
}"""


def _need_browser() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must apt-get install chromium")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return sync_playwright


@pytest.fixture
def page(live_server: Any) -> Iterator[Any]:
    sync_playwright = _need_browser()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 800})
            pg = context.new_page()
            pg.set_default_timeout(TIMEOUT_MS)
            yield pg
        finally:
            browser.close()


@pytest.fixture
def uploaded(live_server: Any, tmp_path: Path) -> tuple[str, str]:
    """A product with one ingested image (a gradient), and the token of its owner."""
    token = live_server.token("viewer-dana")
    with Catalog(url=live_server.url, token=token) as catalog:
        pid = f"viewer-{uuid.uuid4().hex[:8]}"
        pid = catalog.add_product(pid, title="Viewer test", description="for the browser")["data"][
            "id"
        ]
        catalog.add_band(pid, "elev", srcband=1, srcfile=0, dtype="UInt16", nbits=16,
                         data_range=[0, 1000], nodata=0, type="spectral")  # fmt: skip
        arr = (np.add.outer(np.arange(200), np.arange(300)) * 2 + 1).astype("uint16")
        write_geotiff(tmp_path / "dem.tif", arr, crs="EPSG:4326",
                      transform=(6.0, 0.002, 0.0, 46.0, 0.0, -0.002), nodata=0)  # fmt: skip
        catalog.upload_image(str(tmp_path / "dem.tif"), pid, acquired="2018-05-01T00:00:00Z")
        catalog.wait_for_image(pid, "dem", timeout=60, poll=0.05)
    return pid, token


def test_viewer_shows_tiles_footprints_and_properties(
    page: Any, live_server: Any, uploaded: tuple[str, str]
) -> None:
    pid, token = uploaded
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(live_server.url + "/")
    page.locator("#token-input").fill(token)  # no local sign-in on a test server
    page.locator("#signin-form button").click()
    page.wait_for_selector("#signin", state="hidden")
    page.wait_for_function("(pid) => [...document.querySelectorAll('#product option')]"
                           ".some(o => o.value === pid)", arg=pid)  # fmt: skip

    # The shipped basemap (Natural Earth countries, no internet) is drawn under the tiles.
    page.wait_for_function(
        "() => { const c = document.querySelector('.leaflet-basemap-pane canvas');"
        " if (!c || !window.rcViewer.state.basemap) return false;"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n > 10000; }"
    )

    page.select_option("#product", pid)
    page.wait_for_selector("#display:not([hidden])")
    page.select_option("#colormap", "magma")

    page.wait_for_function(f"() => ({OPAQUE_TILE_PIXELS})('colormap=magma') > 1000")
    page.wait_for_selector("path.rc-footprint", state="attached")
    assert "1 image" in page.locator("#search-status").inner_text()

    page.locator("path.rc-footprint").first.click(force=True)
    page.wait_for_selector("#properties-table")
    assert f"{pid}:dem" in page.locator("#properties-table").inner_text()
    page.wait_for_function(
        "() => document.querySelector('#uploads .status-SUCCESS') !== null", timeout=TIMEOUT_MS
    )

    page.wait_for_function(
        "() => window.rcViewer.state.tilesLoaded && [...document.querySelectorAll("
        "'img.leaflet-tile')].every(t => t.style.opacity === '' || t.style.opacity === '1')"
    )  # every tile arrived and faded in: the screenshot shows the whole image
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer.png"))
    assert errors == []


def test_viewer_asks_for_a_token_and_rejects_a_bad_one(page: Any, live_server: Any) -> None:
    page.goto(live_server.url + "/")
    page.wait_for_selector("#signin:not([hidden])")
    page.locator("#token-input").fill("not-a-token")
    page.locator("#signin-form button").click()
    page.wait_for_function("() => document.querySelector('#signin-error').textContent !== ''")
    assert page.locator("#signin").is_visible()

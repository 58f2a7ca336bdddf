"""Browser fixtures: Playwright drives Debian's Chromium against a live server.

Skipped when Playwright or /usr/bin/chromium is missing, except in CI (``CI`` set), where that is
a failure: CI must install both. Every page fails its test on a console error, an uncaught
exception or a failed request (``Viewer.problems``). Screenshots go to ``tests/browser/_artifacts``
(or ``$RASTERCAT_BROWSER_ARTIFACTS``), one per view.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import write_geotiff
from rastercat.client.catalog import Catalog

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
TIMEOUT_MS = 30_000
OWNER = "viewer-dana"
READER = "viewer-erin"

#: Three overlapping 200 x 300 images of 0.002 degree pixels, at three dates.
PIXEL = 0.002
ROWS, COLS = 200, 300
IMAGES = {
    "a": ((6.0, 46.0), "2018-05-01", 0),
    "b": ((6.3, 45.9), "2019-02-10", 100),
    "c": ((6.15, 45.75), "2020-08-20", 200),
}


def artifacts_dir() -> Path:
    configured = os.environ.get("RASTERCAT_BROWSER_ARTIFACTS")
    path = Path(configured) if configured else Path(__file__).resolve().parent / "_artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def bands_array(offset: int) -> np.ndarray:
    """red = 2(r + c) + 1 + offset, green = 1000 - (r + c), blue = 10 c, elev: red with a nodata (0)
    square at rows 0-19, columns 0-19 (4 bands, UInt16)."""
    rc = np.add.outer(np.arange(ROWS), np.arange(COLS))
    red = 2 * rc + 1 + offset
    green = 1000 - rc
    blue = np.broadcast_to(np.arange(COLS) * 3 + 5, (ROWS, COLS))
    elev = red.copy()
    elev[:20, :20] = 0
    return np.stack([red, green, blue, elev]).astype("uint16")


def expected_values(name: str, lon: float, lat: float) -> dict[str, int | None] | None:
    """What image ``name`` holds at (lon, lat), straight from the array; None outside it."""
    (x0, y0), _, offset = IMAGES[name]
    col = int(np.floor((lon - x0) / PIXEL))
    row = int(np.floor((y0 - lat) / PIXEL))
    if not (0 <= row < ROWS and 0 <= col < COLS):
        return None
    arr = bands_array(offset)[:, row, col]
    values: dict[str, int | None] = dict(
        zip(("red", "green", "blue", "elev"), map(int, arr), strict=True)
    )
    if values["elev"] == 0:
        values["elev"] = None
    return values


@dataclass
class Seeded:
    pid: str
    owner_token: str
    reader_token: str
    tmp: Path


def make_product(
    live_server: Any, tmp: Path, names: tuple[str, ...] = ("a", "b", "c"), owner: str = OWNER
) -> Seeded:
    """A product of four UInt16 bands with the images ``names``, owned by ``owner``."""
    token = live_server.token(owner)
    with Catalog(url=live_server.url, token=token) as catalog:
        pid = catalog.add_product(
            f"viewer-{uuid.uuid4().hex[:8]}",
            title="Alpine test scenes",
            description="for the browser",
        )["data"]["id"]
        common = dict(srcfile=0, dtype="UInt16", nbits=16, data_range=[0, 1000], nodata=0,
                      type="spectral")  # fmt: skip
        for i, band in enumerate(("red", "green", "blue"), start=1):
            catalog.add_band(pid, band, srcband=i, **common)
        catalog.add_band(pid, "elev", srcband=4, data_unit="m", **common)
        for name in names:
            (x0, y0), acquired, offset = IMAGES[name]
            path = write_geotiff(tmp / f"{name}.tif", bands_array(offset), crs="EPSG:4326",
                                 transform=(x0, PIXEL, 0.0, y0, 0.0, -PIXEL), nodata=0)  # fmt: skip
            catalog.upload_image(str(path), pid, acquired=f"{acquired}T10:00:00Z")
        for name in names:
            catalog.wait_for_image(pid, name, timeout=60, poll=0.05)
    return Seeded(pid, token, live_server.token(READER), tmp)


@pytest.fixture(scope="module")
def seeded(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    """One product with three images, shared by the read-only tests of a module."""
    return make_product(live_server, tmp_path_factory.mktemp("viewer"))


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


@dataclass
class Viewer:
    """A page of the viewer, and everything that went wrong on it."""

    page: Any
    url: str
    problems: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    """Substrings of problems a test provokes on purpose (e.g. a rejected token's 401)."""

    def open(self, token: str | None = None) -> None:
        """Load the viewer; with ``token``, signed in already (as after an earlier visit)."""
        if token:
            self.page.add_init_script(f"localStorage.setItem('rastercat.token', {token!r});")
        self.page.goto(self.url + "/")
        if token:
            self.page.wait_for_selector("#signin", state="hidden")
            self.page.wait_for_function("() => window.rcViewer.state.me !== null")

    def choose(self, pid: str) -> None:
        self.page.wait_for_function(
            "(pid) => [...document.querySelectorAll('#product option')].some(o => o.value === pid)",
            arg=pid,
        )
        self.page.select_option("#product", pid)
        self.page.wait_for_selector("#display:not([hidden])")
        self.wait_tiles()
        self.page.wait_for_selector("path.rc-footprint", state="attached")

    def wait_tiles(self) -> None:
        """Every visible tile of the image layer has arrived and faded in."""
        self.page.wait_for_function(
            "() => window.rcViewer.state.tiles && window.rcViewer.state.tilesLoaded && [...document"
            ".querySelectorAll('.rc-tiles img.leaflet-tile')].every(t => t.style.opacity === '' ||"
            " t.style.opacity === '1')"
        )

    def close_popup(self) -> None:
        self.page.evaluate("() => { window.rcViewer.map.closePopup(); }")
        self.page.wait_for_selector(".leaflet-popup", state="detached")

    def screenshot(self, name: str) -> Path:
        path = artifacts_dir() / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path

    def unexpected(self) -> list[str]:
        return [p for p in self.problems if not any(e in p for e in self.expected)]


@pytest.fixture
def viewer(live_server: Any) -> Iterator[Viewer]:
    sync_playwright = _need_browser()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 820})
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            v = Viewer(page, live_server.url)
            page.on("pageerror", lambda exc: v.problems.append(f"page error: {exc}"))
            page.on(
                "console",
                lambda msg: (
                    v.problems.append(f"console {msg.type}: {msg.text}")
                    if msg.type == "error"
                    else None
                ),
            )
            page.on(
                "response",
                lambda r: (
                    v.problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None
                ),
            )
            page.on("requestfailed", lambda r: _request_failed(v, r))
            yield v
            assert v.unexpected() == [], v.unexpected()
        finally:
            browser.close()


def _request_failed(v: Viewer, request: Any) -> None:
    # A tile layer replaced while its tiles load cancels them (net::ERR_ABORTED): not a problem.
    if "ERR_ABORTED" not in (request.failure or ""):
        v.problems.append(f"request failed: {request.url} {request.failure}")


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
"""Counts the non-transparent pixels of the loaded tiles whose URL contains ``needle`` (same
origin, so drawing them onto a canvas does not taint it)."""


TILE_ALPHA_AT = """([x, y]) => {
  for (const img of document.querySelectorAll('.rc-tiles img.leaflet-tile-loaded')) {
    const r = img.getBoundingClientRect();
    if (x < r.left || x >= r.right || y < r.top || y >= r.bottom || !img.naturalWidth) continue;
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(img, 0, 0);
    const px = Math.floor((x - r.left) * c.width / r.width), py = Math.floor((y - r.top) * c.height / r.height);
    return ctx.getImageData(px, py, 1, 1).data[3];
  }
  return -1;
}"""
"""The alpha of the image layer's loaded tile pixel at page position ``[x, y]`` (-1: no tile)."""


def page_point(viewer: Viewer, lon: float, lat: float) -> tuple[float, float]:
    """The page coordinates of a map position."""
    xy: list[float] = viewer.page.evaluate(
        "([lat, lon]) => { const m = window.rcViewer.map; const p = m.latLngToContainerPoint([lat, lon]);"
        " const r = m.getContainer().getBoundingClientRect(); return [r.left + p.x, r.top + p.y]; }",
        [lat, lon],
    )
    return xy[0], xy[1]

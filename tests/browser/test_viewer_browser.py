"""The viewer in a real browser, looking at data: the basemap, tiles, footprints coloured by date,
the point query, the date histogram, RGB with a stretch per channel, opacity, the legend and the
default stretch. Every test fails on a console error (see conftest.Viewer)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from browser.conftest import (
    IMAGES,
    OPAQUE_TILE_PIXELS,
    Seeded,
    Viewer,
    expected_values,
    make_product,
    page_point,
)

#: Alpha pixels of the basemap canvas in a 5 x 13 px window around (lat, lon).
BASEMAP_INK = """([lat, lon]) => {
  const m = window.rcViewer.map;
  const c = document.querySelector('.leaflet-basemap-pane canvas');
  const p = m.latLngToContainerPoint([lat, lon]);
  const mr = m.getContainer().getBoundingClientRect(), cr = c.getBoundingClientRect();
  const x = Math.round((mr.left + p.x - cr.left) * c.width / cr.width);
  const y = Math.round((mr.top + p.y - cr.top) * c.height / cr.height);
  const d = c.getContext('2d').getImageData(x - 2, y - 6, 5, 13).data;
  let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;
}"""


def test_sign_in_and_a_basemap_without_antimeridian_lines(viewer: Viewer, live_server: Any) -> None:
    page = viewer.page
    viewer.open()
    page.wait_for_selector("#signin:not([hidden])")
    viewer.screenshot("signin")
    # A user without products: the map stays on the whole world.
    page.locator("#token-input").fill(live_server.token("viewer-gazer"))
    page.locator("#signin-form button").click()  # no local sign-in on a test server
    page.wait_for_selector("#signin", state="hidden")
    assert page.locator("#whoami").inner_text() == "viewer-gazer"
    page.wait_for_function(
        "() => { const c = document.querySelector('.leaflet-basemap-pane canvas');"
        " if (!c || !window.rcViewer.state.basemap) return false;"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n > 10000; }"
    )
    # Land is drawn; the open sea along the latitudes where Russia's and Fiji's rings cross the
    # antimeridian is not (it was: a line across the whole map).
    assert page.evaluate(BASEMAP_INK, [48.0, 2.0]) > 0  # France
    for lat, lon in ((69.0, -5.0), (65.05, -30.0), (71.0, 0.0), (71.53, 0.0), (-16.5, -30.0),
                     (-16.5, -130.0)):  # fmt: skip
        assert page.evaluate(BASEMAP_INK, [lat, lon]) == 0, (lat, lon)
    # No ring jumps across the map any more (Antarctica's edge along the pole is off the map).
    jumps = page.evaluate(
        "() => { let n = 0; window.rcViewer.state.basemap.eachLayer(l => {"
        " const walk = (a) => { if (a.length && a[0].lng !== undefined) {"
        " for (let i = 1; i < a.length; i++) if (Math.abs(a[i].lng - a[i-1].lng) > 180"
        " && Math.abs(a[i].lat) < 85) n++; }"
        " else a.forEach(walk); }; walk(l.getLatLngs()); }); return n; }"
    )
    assert jumps == 0
    favicon = page.request.get(live_server.url + "/favicon.ico")
    assert favicon.status == 200 and favicon.headers["content-type"] == "image/x-icon"
    viewer.screenshot("basemap")


def red_stretch(url: str, seeded: Seeded) -> tuple[int, int]:
    headers = {"Authorization": seeded.owner_token}
    band = httpx.get(
        f"{url}/metadata/v1/catalog/products/{seeded.pid}/bands/red", headers=headers
    ).json()["data"]["attributes"]
    features = httpx.post(
        f"{url}/metadata/v1/search",
        json={"products": [seeded.pid], "limit": 100, "fields": ["statistics"]},
        headers=headers,
    ).json()
    entries = [
        s
        for f in features
        for s in f["properties"]["statistics"]
        if s["srcfile"] == band.get("srcfile", 0) and s["srcband"] == band["srcband"]
    ]
    assert len(entries) == 3  # every image carries its statistics from ingest
    return round(min(s["p2"] for s in entries)), round(max(s["p98"] for s in entries))


def test_tiles_footprints_coloured_by_date_properties_and_legend(
    viewer: Viewer, seeded: Seeded
) -> None:
    page = viewer.page
    viewer.open(seeded.owner_token)
    viewer.choose(seeded.pid)
    page.select_option("#colormap", "magma")
    page.wait_for_function(f"() => ({OPAQUE_TILE_PIXELS})('colormap=magma') > 1000")
    viewer.wait_tiles()
    assert page.locator("path.rc-footprint").count() == 3
    assert "3 images in this area" in page.locator("#search-status").inner_text()
    colours = set(
        page.eval_on_selector_all(
            "path.rc-footprint", "ps => ps.map(p => p.getAttribute('stroke'))"
        )
    )
    assert len(colours) == 3  # one colour per date

    # The legend: the magma ramp drawn from the server's own table, and the range.
    page.wait_for_function("() => document.querySelector('#legend canvas.ramp') !== null"
                           " && document.querySelector('#legend').innerText.includes('magma')")  # fmt: skip
    first = page.evaluate(
        "() => Array.from(document.querySelector('#legend canvas.ramp').getContext('2d')"
        ".getImageData(0, 0, 1, 1).data)"
    )
    assert first[:3] == [0, 0, 3]  # magma's first entry
    # The default stretch: the widest p2..p98 of the images' ingest statistics for the band.
    lo, hi = red_stretch(viewer.url, seeded)
    legend = page.locator("#legend").inner_text()
    assert "red" in legend and str(lo) in legend and str(hi) in legend

    x, y = page_point(viewer, 6.05, 45.95)  # image "a" only: its footprint is on top there
    viewer.close_popup()
    page.locator("path.rc-footprint").first.wait_for(state="attached")
    page.mouse.click(x, y)
    page.wait_for_selector("#properties-table")
    assert f"{seeded.pid}:a" in page.locator("#properties-table").inner_text()
    assert page.locator("#delete-image").count() == 1  # the owner may delete it
    page.wait_for_function("() => document.querySelector('#uploads .status-SUCCESS') !== null")
    viewer.close_popup()
    viewer.wait_tiles()
    viewer.screenshot("product")


def test_a_click_shows_every_band_of_every_image_under_it(viewer: Viewer, seeded: Seeded) -> None:
    page = viewer.page
    viewer.open(seeded.owner_token)
    viewer.choose(seeded.pid)
    x, y = page_point(viewer, 6.45, 45.68)  # where the three images overlap
    page.mouse.click(x, y)
    page.wait_for_selector("#point-table")
    point = page.evaluate("() => window.rcViewer.state.lastPoint")
    data = point["data"]
    assert [d["image_id"] for d in data] == [f"{seeded.pid}:{n}" for n in ("c", "b", "a")]
    for d in data:
        name = d["image_id"].rsplit(":", 1)[1]
        assert d["values"] == expected_values(name, point["lon"], point["lat"])
        assert d["acquired"].startswith(IMAGES[name][1])
    rows = page.locator("#point-table tbody tr")
    assert rows.count() == 3
    first = rows.nth(0).inner_text()
    assert "c" in first and "2020-08-20" in first and str(data[0]["values"]["red"]) in first
    viewer.wait_tiles()
    viewer.screenshot("point")

    # In image a's nodata corner the elevation is shown as missing.
    viewer.close_popup()
    x, y = page_point(viewer, 6.01, 45.99)
    page.mouse.click(x, y)
    page.wait_for_function(
        "() => { const p = window.rcViewer.state.lastPoint; return p && p.lat > 45.98; }"
    )
    point = page.evaluate("() => window.rcViewer.state.lastPoint")
    assert len(point["data"]) == 1 and point["data"][0]["values"]["elev"] is None
    assert point["data"][0]["values"] == expected_values("a", point["lon"], point["lat"])
    page.wait_for_selector("#point-table td.null")


def test_the_date_histogram_filters_images_and_tiles(viewer: Viewer, seeded: Seeded) -> None:
    page = viewer.page
    viewer.open(seeded.owner_token)
    viewer.choose(seeded.pid)
    page.wait_for_selector("#histogram-svg")
    bars = page.locator("#histogram-svg rect.bar")
    heights = bars.evaluate_all("rs => rs.map(r => Number(r.getAttribute('height')))")
    assert sum(1 for h in heights if h > 0) == 3  # three dates, three bars
    # Drag from the first bar to the middle: 2018-05-01 .. about 2019-06 (images a and b).
    box = page.locator("#histogram-svg").bounding_box()
    assert box is not None
    y = box["y"] + box["height"] * 0.5
    page.mouse.move(box["x"] + 3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.55, y)
    page.mouse.up()
    page.wait_for_function(
        "() => document.querySelector('#search-status').innerText.startsWith('2 images')"
    )
    assert page.locator("#start").input_value() == "2018-05-01"
    end = page.locator("#end").input_value()
    assert "2019-02-10" < end < "2020-08-20"
    assert page.locator("path.rc-footprint").count() == 2
    assert page.locator("#histogram-svg rect.bar.out").count() > 0
    viewer.wait_tiles()
    srcs = page.eval_on_selector_all(".rc-tiles img.leaflet-tile", "ts => ts.map(t => t.src)")
    assert srcs and all("start_datetime=2018-05-01" in s and "end_datetime=" in s for s in srcs)
    # A point query follows the filter too.
    x, y = page_point(viewer, 6.45, 45.68)
    page.mouse.click(x, y)
    page.wait_for_selector("#point-table")
    ids = [d["image_id"] for d in page.evaluate("() => window.rcViewer.state.lastPoint.data")]
    assert ids == [f"{seeded.pid}:b", f"{seeded.pid}:a"]
    viewer.close_popup()
    viewer.screenshot("dates")
    page.locator("#clear-dates").click()
    page.wait_for_function(
        "() => document.querySelector('#search-status').innerText.startsWith('3 images')"
    )


def test_rgb_with_a_stretch_per_channel_and_opacity(viewer: Viewer, seeded: Seeded) -> None:
    page = viewer.page
    viewer.open(seeded.owner_token)
    viewer.choose(seeded.pid)
    page.locator("input[name=mode][value=rgb]").check()
    assert page.locator("#band-r").input_value() == "red"
    assert page.locator("#band-g").input_value() == "green"
    assert page.locator("#band-b").input_value() == "blue"
    for channel, (lo, hi) in zip("rgb", ((0, 900), (500, 1000), (0, 950)), strict=True):
        page.locator(f"#min-{channel}").fill(str(lo))
        page.locator(f"#max-{channel}").fill(str(hi))
        page.locator(f"#max-{channel}").dispatch_event("change")
    needle = "rescale=0%2C900&rescale=500%2C1000&rescale=0%2C950"
    page.wait_for_function(f"() => ({OPAQUE_TILE_PIXELS})({needle!r}) > 1000")
    assert page.locator("#legend .legend-row").count() == 3
    assert "green" in page.locator("#legend").inner_text()

    page.locator("#opacity").fill("0.6")
    assert page.locator("#opacity-value").inner_text() == "60%"
    assert page.evaluate("() => window.rcViewer.state.tiles.options.opacity") == pytest.approx(0.6)
    assert (
        page.evaluate("() => getComputedStyle(document.querySelector('.rc-tiles')).opacity")
        == "0.6"
    )
    viewer.wait_tiles()
    viewer.screenshot("rgb")


def test_the_default_stretch_uses_image_statistics(
    viewer: Viewer, live_server: Any, tmp_path: Any
) -> None:
    from rastercat.store.sql.repo import t

    product = make_product(live_server, tmp_path, names=("a", "b"))
    repo = live_server.state.repo
    # Statistics as ingest records them (per source band); written here directly so the test
    # does not depend on which statistics ingest computes.
    for name, (p2, p98) in (("a", (111, 700)), ("b", (150, 820))):
        with repo.tx() as conn:
            row = repo.one(t.images, conn, id=f"{product.pid}:{name}")
            assert row is not None
            stats = [{"srcfile": 0, "srcband": 1, "min": 1, "max": 999, "mean": 400,
                      "stddev": 90, "p2": p2, "p98": p98}]  # fmt: skip
            repo.update(t.images, row["pk"], {"attrs": {**row["attrs"], "statistics": stats}}, conn)
    page = viewer.page
    viewer.open(product.owner_token)
    viewer.choose(product.pid)
    page.select_option("#band", "red")
    assert page.locator("#range-min").input_value() == "111"
    assert page.locator("#range-max").input_value() == "820"
    assert "statistics of 2 images" in page.locator("#stretch-source").inner_text()
    page.wait_for_function(f"() => ({OPAQUE_TILE_PIXELS})('rescale=111%2C820') > 1000")
    # A band without statistics falls back to its data range.
    page.select_option("#band", "elev")
    assert (page.locator("#range-min").input_value(), page.locator("#range-max").input_value()) == (
        "0",
        "1000",
    )
    assert "data range" in page.locator("#stretch-source").inner_text()


def test_a_single_product_shows_at_once_and_the_last_one_comes_back(
    viewer: Viewer, live_server: Any, seeded: Seeded, tmp_path: Any
) -> None:
    solo = make_product(live_server, tmp_path, names=("a",), owner="viewer-solo")
    make_product(live_server, tmp_path, names=())  # the seeded product's owner has two at least
    page = viewer.page
    viewer.open(solo.owner_token)  # this user has one product: no need to pick it
    page.wait_for_function("(pid) => window.rcViewer.state.product === pid", arg=solo.pid)
    assert page.locator("#product").input_value() == solo.pid
    viewer.wait_tiles()
    page.wait_for_selector("path.rc-footprint", state="attached")
    viewer.screenshot("first-open")

    page.evaluate("() => localStorage.clear()")
    viewer.open(seeded.owner_token)  # several products: none chosen ...
    assert page.locator("#product").input_value() == ""
    viewer.choose(seeded.pid)
    page.reload()  # ... until one was: it comes back
    page.wait_for_function("(pid) => window.rcViewer.state.product === pid", arg=seeded.pid)
    viewer.wait_tiles()


def test_on_the_server_machine_the_local_user_is_signed_in_at_once(
    viewer: Viewer, server_factory: Any
) -> None:
    # As `rastercat serve` on 127.0.0.1 leaves it: local sign-in on, the local user's credentials.
    server = server_factory(local_signin=True)
    (server.settings.data_dir / "local-credentials.json").write_text(
        json.dumps({"url": server.url, "token": server.token("local")})
    )
    viewer.url = server.url
    viewer.open()
    viewer.page.wait_for_function(
        "() => window.rcViewer.state.me && window.rcViewer.state.me.name === 'local'"
    )
    assert viewer.page.locator("#signin").is_hidden()
    assert viewer.page.locator("#whoami").inner_text() == "local"


def test_viewer_asks_for_a_token_and_rejects_a_bad_one(viewer: Viewer) -> None:
    viewer.expected.append("HTTP 401")  # the rejected token, on purpose
    viewer.expected.append("status of 401")
    page = viewer.page
    viewer.open()
    page.wait_for_selector("#signin:not([hidden])")
    page.locator("#token-input").fill("not-a-token")
    page.locator("#signin-form button").click()
    page.wait_for_function("() => document.querySelector('#signin-error').textContent !== ''")
    assert page.locator("#signin").is_visible()
    assert "not accepted" in page.locator("#signin-error").inner_text()

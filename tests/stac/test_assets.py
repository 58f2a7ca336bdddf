"""Items of uploaded images: the Projection and Raster extensions, and asset hrefs that GDAL opens
with no extra header (signed URLs served with HTTP range requests)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx
import numpy as np
import pytest

from rastercat.catalog.asset_urls import AssetSigner
from stac.conftest import CAT, GEOTRANS, STAC


def _item(uploaded: dict[str, Any], key: str = "pair") -> dict[str, Any]:
    pid = uploaded["pid"]
    r = uploaded["client"].get(f"{STAC}/collections/{pid}/items/{quote(f'{pid}:{key}', safe='')}")
    assert r.status_code == 200, r.text
    return r.json()


def test_projection_and_raster_extensions(uploaded: dict[str, Any]) -> None:
    item = _item(uploaded)
    props = item["properties"]
    assert props["proj:epsg"] == 32643 and props["proj:code"] == "EPSG:32643"
    assert props["proj:shape"] == [48, 64]
    c, a, b, f, d, e = GEOTRANS
    assert props["proj:transform"] == [a, b, c, d, e, f]
    assert props["proj:bbox"] == [c, f - 48 * 15, c + 64 * 15, f]
    assert props["datetime"] == "2020-05-01T00:00:00Z"
    data = item["assets"]["data"]
    assert data["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
    assert data["roles"] == ["data"]
    bands = data["raster:bands"]
    assert [b["data_type"] for b in bands] == ["uint16", "uint16"]
    assert (
        bands[0]["nodata"] == 0
        and bands[0]["scale"] == pytest.approx(1e-4)
        and bands[0]["offset"] == 0
    )
    assert [b["name"] for b in data["eo:bands"]] == ["red", "green"]
    assert item["assets"]["thumbnail"]["type"] == "image/png"


def test_statistics_are_read_when_images_carry_them(
    uploaded: dict[str, Any], live_server: Any
) -> None:
    from rastercat.store.sql.repo import t

    repo = live_server.state.repo
    row = repo.one(t.images, id=uploaded["id"])
    stats = [
        {
            "srcfile": 0,
            "srcband": 2,
            "min": 1,
            "max": 9,
            "mean": 5.0,
            "stddev": 2.0,
            "p2": 1,
            "p98": 9,
        }
    ]
    with repo.tx() as conn:
        repo.update(t.images, row["pk"], {"attrs": {**row["attrs"], "statistics": stats}}, conn)
    try:
        bands = _item(uploaded)["assets"]["data"]["raster:bands"]
        assert "statistics" not in bands[0]
        assert bands[1]["statistics"] == {"minimum": 1, "maximum": 9, "mean": 5.0, "stddev": 2.0}
    finally:
        with repo.tx() as conn:
            repo.update(t.images, row["pk"], {"attrs": row["attrs"]}, conn)


def test_gdal_reads_the_href_through_vsicurl(uploaded: dict[str, Any]) -> None:
    import rasterio

    href = _item(uploaded)["assets"]["data"]["href"]
    with (
        rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"),
        rasterio.open(f"/vsicurl/{href}") as src,
    ):
        assert (src.count, src.height, src.width) == (2, 48, 64)
        np.testing.assert_array_equal(src.read(), uploaded["data"])
        assert src.crs.to_epsg() == 32643


def test_range_requests_and_head(uploaded: dict[str, Any], live_server: Any) -> None:
    from rastercat.store.sql.repo import t

    href = _item(uploaded)["assets"]["data"]["href"]
    row = live_server.state.repo.one(t.images, id=uploaded["id"])
    whole = (live_server.state.objects.path(row["storage_key"])).read_bytes()
    with httpx.Client() as anon:  # no Authorization header, as GDAL sends
        head = anon.head(href)
        assert head.status_code == 200 and head.headers["accept-ranges"] == "bytes"
        assert int(head.headers["content-length"]) == len(whole) and head.content == b""
        part = anon.get(href, headers={"Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
        assert part.content == whole[100:200]
        assert anon.get(href).content == whole


def _with(href: str, **changes: str) -> str:
    parts = urlsplit(href)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(changes)
    return parts._replace(query=urlencode(query)).geturl()


def test_forged_and_expired_signatures_are_403(uploaded: dict[str, Any], live_server: Any) -> None:
    from rastercat.store.sql.repo import t

    href = _item(uploaded)["assets"]["data"]["href"]
    sig = parse_qs(urlsplit(href).query)["sig"][0]
    row = live_server.state.repo.one(t.images, id=uploaded["id"])
    past = AssetSigner(live_server.state.secret, 60).sign("data", uploaded["id"], row["storage_key"],
                                                          now=time.time() - 3600)  # fmt: skip
    other = f"{uploaded['pid']}:doomed"
    cases = {
        "forged": _with(href, sig="0" * len(sig)),
        "longer": _with(href, expires=str(int(parse_qs(urlsplit(href).query)["expires"][0]) + 3600)),
        "other image": _with(href, id=other),
        "expired": _with(href, **past),
        "thumbnail sig on data": _with(href, sig=parse_qs(urlsplit(_item(uploaded)["assets"]["thumbnail"]["href"]).query)["sig"][0]),
        "bad expiry": _with(href, expires="soon"),
    }  # fmt: skip
    with httpx.Client() as anon:
        for name, url in cases.items():
            r = anon.get(url)
            assert r.status_code == 403, (name, r.status_code)
            assert r.json()["errors"][0]["status"] == "403"
        assert anon.get(href).status_code == 200
        assert anon.get(href.split("?")[0]).status_code == 400  # no signature at all


def test_signed_url_dies_with_its_image(uploaded: dict[str, Any]) -> None:
    item = _item(uploaded, "doomed")
    href, thumb = item["assets"]["data"]["href"], item["assets"]["thumbnail"]["href"]
    with httpx.Client() as anon:
        assert anon.get(href, headers={"Range": "bytes=0-9"}).status_code == 206
        r = uploaded["client"].delete(f"{CAT}/products/{uploaded['pid']}/images/doomed")
        assert r.status_code in (200, 204), r.text
        assert anon.get(href).status_code == 403
        assert anon.head(href).status_code == 403
        assert anon.get(thumb).status_code == 403


def test_thumbnail_is_a_png_of_the_image(uploaded: dict[str, Any]) -> None:
    import io

    from PIL import Image

    href = _item(uploaded)["assets"]["thumbnail"]["href"]
    r = httpx.get(href)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (64, 48)

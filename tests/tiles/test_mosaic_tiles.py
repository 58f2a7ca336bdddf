"""Product tiles mosaic the images that intersect them: newest on top, or as asked; alpha masks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from _tile_helpers import inside, pixel_lonlat, rgba, tile_at

from rastercat.client.catalog import Catalog
from tiles.conftest import ORIGIN, TileProduct, add_bands, image_array

# "old" covers lon 10 .. 10.256; "new" is shifted east by 0.128: they overlap on 10.128 .. 10.256
OVERLAP_LON = 10.19
LAT = 44.8


@pytest.fixture(scope="module")
def mosaic(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TileProduct]:
    with Catalog(url=live_server.url, token=live_server.token("tiles-alice")) as catalog:
        pid = f"mosaic-{uuid.uuid4().hex[:10]}"
        pid = catalog.add_product(pid, title="Mosaic", description="mosaic")["data"]["id"]
        add_bands(catalog, pid)
        tp = TileProduct(pid, "", tmp_path_factory.mktemp("mosaic"))
        tp.upload(catalog, "new", image_array(150, 150, 150, hole=False), "2019-06-01T00:00:00Z",
                  origin=(ORIGIN[0] + 0.128, ORIGIN[1]))  # fmt: skip
        tp.upload(catalog, "old", image_array(50, 50, 50, hole=False), "2017-06-01T00:00:00Z")
        yield tp


def grey_at(client: httpx.Client, pid: str, lon: float, lat: float, **params: Any) -> int:
    z, x, y = tile_at(lon, lat, 12)
    r = client.get(f"/tiles/v1/products/{pid}/{z}/{x}/{y}.png", params={"bands": "green", **params})
    assert r.status_code == 200, r.text
    px = rgba(r.content)
    lons, lats = pixel_lonlat(z, x, y)
    near = (np.abs(lons - lon) < 0.002) & (np.abs(lats - lat) < 0.002)
    values = px[near]
    assert (values[:, 3] == 255).all()
    (grey,) = set(values[:, 0].tolist())
    return int(grey)


def test_newest_image_is_on_top(alice: httpx.Client, mosaic: TileProduct) -> None:
    assert grey_at(alice, mosaic.pid, OVERLAP_LON, LAT) == 150
    assert grey_at(alice, mosaic.pid, 10.05, LAT) == 50  # only the old one there


def test_oldest_on_top_when_asked(alice: httpx.Client, mosaic: TileProduct) -> None:
    assert grey_at(alice, mosaic.pid, OVERLAP_LON, LAT, order="oldest") == 50


def test_a_date_range_picks_the_images(alice: httpx.Client, mosaic: TileProduct) -> None:
    before = {"end_datetime": "2018-01-01T00:00:00Z"}
    assert grey_at(alice, mosaic.pid, OVERLAP_LON, LAT, **before) == 50
    z, x, y = tile_at(10.3, LAT, 12)  # only the new image reaches 10.3
    r = alice.get(f"/tiles/v1/products/{mosaic.pid}/{z}/{x}/{y}.png", params=before)
    assert (rgba(r.content)[..., 3] == 0).all()


def test_an_unreadable_image_is_left_out_of_the_mosaic(
    live_server: Any, alice: httpx.Client, mosaic: TileProduct
) -> None:
    from helpers import wait_for

    with live_server.client("tiles-carol") as carol:
        me = [p for p in carol.get("/whoami").json()["principals"] if p.startswith("user:")][0]
        with Catalog(url=live_server.url, token=live_server.token("tiles-alice")) as catalog:
            catalog.change_product(mosaic.pid, read=[me], set_global_permissions=True)
            wait_for(
                lambda: (
                    carol.get(f"/metadata/v1/get/{mosaic.pid}:old").status_code == 200
                    and carol.get(f"/metadata/v1/bands/all/{mosaic.pid}").json()
                ),
                timeout=30,
                what="permissions copied to bands and images",
            )
            catalog.change_image(mosaic.pid, "old", read=[])
        assert grey_at(carol, mosaic.pid, OVERLAP_LON, LAT, order="oldest") == 150
        z, x, y = tile_at(10.05, LAT, 12)
        r = carol.get(f"/tiles/v1/products/{mosaic.pid}/{z}/{x}/{y}.png")
        assert (rgba(r.content)[..., 3] == 0).all()
        assert carol.get(f"/tiles/v1/images/{mosaic.pid}:old/{z}/{x}/{y}.png").status_code == 404
    assert grey_at(alice, mosaic.pid, 10.05, LAT) == 50


def test_alpha_band_makes_pixels_transparent(
    live_server: Any, tmp_path_factory: pytest.TempPathFactory, alice: httpx.Client
) -> None:
    from helpers import write_geotiff

    with Catalog(url=live_server.url, token=live_server.token("tiles-alice")) as catalog:
        pid = catalog.add_product(f"alpha-{uuid.uuid4().hex[:10]}", title="A", description="A")
        pid = pid["data"]["id"]
        common = dict(srcfile=0, dtype="Byte", nbits=8, data_range=[0, 255], type="spectral")
        catalog.add_band(pid, "grey", srcband=1, **common)
        catalog.add_band(pid, "alpha", srcband=2, **{**common, "type": "mask"})
        arr = np.stack([np.full((256, 256), 77, "uint8"), np.full((256, 256), 255, "uint8")])
        arr[1, :, :128] = 0  # the west half is transparent
        path = tmp_path_factory.mktemp("alpha") / "a.tif"
        write_geotiff(path, arr, crs="EPSG:4326", transform=(10.0, 0.001, 0.0, 45.0, 0.0, -0.001))
        catalog.upload_image(str(path), pid)
        catalog.wait_for_image(pid, "a", timeout=60, poll=0.05)
    z, x, y = tile_at(10.128, 44.872, 10)
    r = alice.get(f"/tiles/v1/products/{pid}/{z}/{x}/{y}.png")
    assert r.status_code == 200, r.text
    px = rgba(r.content)
    lon, lat = pixel_lonlat(z, x, y)
    west = inside(lon, lat, 10.003, 44.75, 10.125, 44.997)
    east = inside(lon, lat, 10.131, 44.75, 10.253, 44.997)
    assert (px[west][:, 3] == 0).all()
    assert (px[east][:, 3] == 255).all() and (px[east][:, 0] == 77).all()

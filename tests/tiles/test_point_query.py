"""``GET /raster/v1/point``: the value of every band of the images under a point, permission-checked."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as transform_points

from helpers import wait_for, write_geotiff
from rastercat.client.catalog import Catalog

WAIT = {"timeout": 60, "poll": 0.05}
#: A UTM 32N image (so the point is reprojected) of 30 m pixels, 120 rows x 160 columns.
UTM_ORIGIN = (500000.0, 5000000.0)
PIXEL = 30.0
ROWS, COLS = 120, 160


@dataclass
class PointProduct:
    pid: str
    old: Path
    new: Path
    owner: str
    reader: str


def gradient(offset: int) -> np.ndarray:
    """Band 1: ``row * 1000 + col + offset`` (every pixel distinct); band 2: the same with a nodata
    (0) square at rows 10-29, columns 10-29."""
    b1 = (np.arange(ROWS)[:, None] * 1000 + np.arange(COLS)[None, :] + offset).astype("int32")
    b2 = b1.copy()
    b2[10:30, 10:30] = 0
    return np.stack([b1, b2])


def lonlat(row: float, col: float) -> tuple[float, float]:
    """The WGS84 position of a pixel position of the UTM image."""
    x = UTM_ORIGIN[0] + col * PIXEL
    y = UTM_ORIGIN[1] - row * PIXEL
    lons, lats = transform_points("EPSG:32632", "EPSG:4326", [x], [y])
    return lons[0], lats[0]


def source_pixel(path: Path, lon: float, lat: float) -> list[int]:
    """What the source file holds under (lon, lat): the reference the API must equal."""
    with rasterio.open(path) as src:
        xs, ys = transform_points("EPSG:4326", src.crs, [lon], [lat])
        return [int(v) for v in next(src.sample([(xs[0], ys[0])]))]


@pytest.fixture(scope="module")
def point_product(
    live_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PointProduct]:
    tmp = tmp_path_factory.mktemp("point")
    owner, reader = "point-alice", "point-bob"
    live_server.token(reader)
    with Catalog(url=live_server.url, token=live_server.token(owner)) as catalog:
        pid = catalog.add_product(
            f"point-{uuid.uuid4().hex[:8]}", title="Point", description="point query tests"
        )["data"]["id"]
        common = dict(srcfile=0, dtype="Int32", nbits=32, data_range=[0, 200000], type="spectral")
        catalog.add_band(pid, "code", srcband=1, **common)
        catalog.add_band(pid, "holey", srcband=2, nodata=0, **common)
        # Another type over the same source band: each value keeps its band's own type.
        catalog.add_band(pid, "ratio", srcband=1, **{**common, "dtype": "Float64"})
        paths = []
        for name, offset, acquired in (("old", 0, "2019-03-01"), ("new", 500000, "2020-06-01")):
            path = write_geotiff(
                tmp / f"{name}.tif",
                gradient(offset),
                crs="EPSG:32632",
                transform=(UTM_ORIGIN[0], PIXEL, 0.0, UTM_ORIGIN[1], 0.0, -PIXEL),
            )
            catalog.upload_image(str(path), pid, acquired=acquired + "T00:00:00Z")
            catalog.wait_for_image(pid, name, **WAIT)
            paths.append(path)
        yield PointProduct(pid, paths[0], paths[1], owner, reader)


@pytest.fixture
def owner(live_server: Any, point_product: PointProduct) -> Iterator[httpx.Client]:
    with live_server.client(point_product.owner) as c:
        yield c


def _point(client: httpx.Client, pid: str, lon: float, lat: float, **extra: Any) -> httpx.Response:
    return client.get("/raster/v1/point", params={"lon": lon, "lat": lat, "products": pid, **extra})


def test_values_equal_the_source_pixels_newest_first(
    owner: httpx.Client, point_product: PointProduct
) -> None:
    for row, col in ((0.5, 0.5), (57.3, 101.8), (119.5, 159.5), (20.2, 15.7)):
        lon, lat = lonlat(row, col)
        r = _point(owner, point_product.pid, lon, lat)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert [d["image_id"] for d in data] == [
            f"{point_product.pid}:new",
            f"{point_product.pid}:old",
        ]
        for d, path in zip(data, (point_product.new, point_product.old), strict=True):
            assert d["product_id"] == point_product.pid
            expected = source_pixel(path, lon, lat)
            assert d["values"]["code"] == expected[0] and isinstance(d["values"]["code"], int)
            assert d["values"]["ratio"] == float(expected[0])
            assert isinstance(d["values"]["ratio"], float)
            # The nodata square of band 2 is null; elsewhere it equals the source.
            assert d["values"]["holey"] == (None if expected[1] == 0 else expected[1])
        assert data[0]["acquired"].startswith("2020-06-01")
        assert data[1]["acquired"].startswith("2019-03-01")
    lon, lat = lonlat(20.2, 15.7)
    assert _point(owner, point_product.pid, lon, lat).json()["data"][0]["values"]["holey"] is None


def test_limit_dates_and_points_outside(owner: httpx.Client, point_product: PointProduct) -> None:
    lon, lat = lonlat(60, 80)
    one = _point(owner, point_product.pid, lon, lat, limit=1).json()["data"]
    assert [d["image_id"] for d in one] == [f"{point_product.pid}:new"]
    old = _point(owner, point_product.pid, lon, lat, end_datetime="2019-12-31T00:00:00Z").json()[
        "data"
    ]
    assert [d["image_id"] for d in old] == [f"{point_product.pid}:old"]
    new = _point(owner, point_product.pid, lon, lat, start_datetime="2020-01-01T00:00:00Z").json()[
        "data"
    ]
    assert [d["image_id"] for d in new] == [f"{point_product.pid}:new"]
    outside_lon, outside_lat = lonlat(-5, 80)  # north of the images
    assert _point(owner, point_product.pid, outside_lon, outside_lat).json() == {"data": []}


def test_what_the_caller_may_not_read_never_appears(
    live_server: Any, point_product: PointProduct
) -> None:
    lon, lat = lonlat(60, 80)
    with live_server.client(point_product.reader) as bob:
        r = _point(bob, point_product.pid, lon, lat)
        assert r.status_code == 404, r.text  # a product bob may not see does not exist for him
        bob_ns = bob.get("/whoami").json()["namespace"]
        with Catalog(url=live_server.url, token=live_server.token(point_product.owner)) as cat:
            # Sharing the product alone shows the product, not its images or bands.
            cat.change_product(point_product.pid, read=[f"user:{bob_ns}"])
            r = _point(bob, point_product.pid, lon, lat)
            assert r.status_code == 200 and r.json() == {"data": []}
            cat.change_product(
                point_product.pid, read=[f"user:{bob_ns}"], set_global_permissions=True
            )
            wait_for(
                lambda: len(_point(bob, point_product.pid, lon, lat).json()["data"]) == 2,
                what="the images shared with bob",
            )
            # A band kept private does not appear among the values.
            cat.change_band(point_product.pid, "holey", read=[])
            try:
                data = _point(bob, point_product.pid, lon, lat).json()["data"]
                assert [sorted(d["values"]) for d in data] == [["code", "ratio"]] * 2
                mine = _point(owner_client := live_server.client(point_product.owner),
                              point_product.pid, lon, lat).json()["data"]  # fmt: skip
                owner_client.close()
                assert sorted(mine[0]["values"]) == ["code", "holey", "ratio"]
            finally:
                cat.change_product(point_product.pid, read=[], set_global_permissions=True)
        wait_for(
            lambda: _point(bob, point_product.pid, lon, lat).status_code == 404,
            what="the product hidden from bob again",
        )
        with httpx.Client(base_url=live_server.url) as anonymous:
            assert _point(anonymous, point_product.pid, lon, lat).status_code == 401


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": "abc", "lat": "45"}, "lon"),
        ({"lon": "nan", "lat": "45"}, "lon"),
        ({"lon": "181", "lat": "45"}, "lon"),
        ({"lon": "9", "lat": "-90.5"}, "lat"),
        ({"lon": "9", "lat": "inf"}, "lat"),
        ({"lat": "45"}, "lon"),
        ({"lon": "9", "lat": "45", "limit": "0"}, "limit"),
        ({"lon": "9", "lat": "45", "limit": "x"}, "limit"),
        ({"lon": "9", "lat": "45", "start_datetime": "yesterday"}, "start_datetime"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    owner: httpx.Client, point_product: PointProduct, params: dict[str, str], field: str
) -> None:
    r = owner.get("/raster/v1/point", params={"products": point_product.pid, **params})
    assert r.status_code == 400, r.text
    assert r.json()["errors"][0]["source"]["pointer"] == field


def test_products_are_required_and_unknown_ones_are_404(owner: httpx.Client) -> None:
    r = owner.get("/raster/v1/point", params={"lon": 9, "lat": 45})
    assert r.status_code == 400 and r.json()["errors"][0]["source"]["pointer"] == "products"
    r = owner.get("/raster/v1/point", params={"lon": 9, "lat": 45, "products": "nobody:nothing"})
    assert r.status_code == 404


def test_a_point_query_reads_in_one_of_the_read_slots(server_factory: Any) -> None:
    """Like every read of pixels, bounded by ``limits.max_concurrent_reads``."""
    server = server_factory()
    with server.client("alice") as c:
        r = c.post(
            "/metadata/v1/catalog/products", json={"id": "pq", "title": "T", "description": "D"}
        )
        pid = r.json()["data"]["id"]
        assert server.state.read_slots.peak == 0
        r = c.get("/raster/v1/point", params={"lon": 1, "lat": 2, "products": pid})
        assert r.status_code == 200 and r.json() == {"data": []}
    assert server.state.read_slots.peak == 1

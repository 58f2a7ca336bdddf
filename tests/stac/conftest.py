"""STAC API fixtures: products with image records seeded through the Catalog API (searches need no
pixels), one product with a real uploaded COG, and bulk-seeded images for paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from helpers import insert_images

CAT = "/metadata/v1/catalog"
META = "/metadata/v1"
STAC = "/stac/v1"
UTM43 = "EPSG:32643"
GEOTRANS = (391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0)


def box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def make_product(c: httpx.Client, pid: str, **attrs: Any) -> str:
    r = c.post(f"{CAT}/products", json={"id": pid, "title": "T", "description": "D", **attrs})
    assert r.status_code == 201, r.text
    return r.json()["data"]["id"]


def add_band(c: httpx.Client, pid: str, name: str, srcband: int, **attrs: Any) -> None:
    body = dict(
        name=name, srcband=srcband, nbits=8, dtype="Byte", data_range=[0, 255], type="spectral"
    )
    r = c.post(f"{CAT}/products/{pid}/bands", json={**body, **attrs})
    assert r.status_code == 201, r.text


IMAGES: dict[str, dict[str, Any]] = {
    "a": dict(acquired="2018-01-05T00:00:00Z", geometry=box(0, 0, 1, 1), cloud_fraction=0.1, sat_id="S1",
              extra_properties={"tile": "x1", "score": 5}),
    "b": dict(acquired="2018-02-10T12:00:00Z", geometry=box(2, 2, 3, 3), cloud_fraction=0.5, sat_id="S2",
              extra_properties={"tile": "X2", "score": 7}),
    "c": dict(acquired="2018-03-15T00:00:00Z", geometry=box(0.5, 0.5, 2.5, 2.5), cloud_fraction=0.9,
              sat_id="S1"),
    # An L-shaped footprint whose bbox covers (4.5, 4.5) but whose polygon does not.
    "l": dict(acquired="2018-04-01T00:00:00Z",
              geometry={"type": "Polygon", "coordinates": [[[4, 4], [6, 4], [6, 4.2], [4.2, 4.2],
                                                            [4.2, 6], [4, 6], [4, 4]]]}),
    "d": dict(acquired="2018-05-01T00:00:00Z", geometry=box(10, 10, 11, 11), cloud_fraction=0.3,
              sat_id="S3", extra_properties={"tile": "x%1", "score": 5.5}),
}  # fmt: skip


@pytest.fixture(scope="module")
def seeded(live_server: Any) -> dict[str, Any]:
    """Two products of one owner ("stac-owner"), records only."""
    c: httpx.Client = live_server.client("stac-owner")
    uid = uuid.uuid4().hex[:8]
    pid = make_product(c, f"stac-{uid}", tags=["test", "stac"])
    add_band(c, pid, "red", 1, wavelength_center=665, wavelength_unit="nm", name_common="red")
    other = make_product(c, f"stac-other-{uid}")
    for key, attrs in IMAGES.items():
        r = c.post(f"{CAT}/products/{pid}/images", json={"id": key, **attrs})
        assert r.status_code == 201, r.text
    r = c.post(f"{CAT}/products/{other}/images",
               json={"id": "z", "acquired": "2018-01-20T00:00:00Z", "geometry": box(0, 0, 1, 1)})  # fmt: skip
    assert r.status_code == 201, r.text
    return {"pid": pid, "other": other, "client": c, "ids": {k: f"{pid}:{k}" for k in IMAGES},
            "z": f"{other}:z"}  # fmt: skip


def bulk_images(state: Any, pid: str, n: int, start: datetime, step: float = 3600.0) -> list[str]:
    """Insert ``n`` image records straight through the store's image writer (rows and spatial
    index), the way benchmarks/bench_search.py seeds: thousands per second instead of one request
    each."""
    from rastercat.store.sql.repo import t

    product = state.repo.one(t.products, id=pid)
    records: dict[str, dict[str, Any]] = {}
    t0 = start.timestamp()
    for i in range(n):
        when = t0 + i * step
        lon, lat = (i % 50) * 0.1, (i // 50 % 50) * 0.1
        records[f"bulk{i:05d}"] = {"acquired": datetime.fromtimestamp(when, UTC).isoformat(),
                                   "geometry": box(lon, lat, lon + 0.05, lat + 0.05),
                                   "cloud_fraction": (i % 10) / 10}  # fmt: skip
    return insert_images(state.repo, product, records)


@pytest.fixture(scope="module")
def uploaded(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One 2-band UInt16 image (48 rows x 64 cols, 15 m UTM 43N) uploaded as a real COG."""
    import rasterio
    from rasterio.transform import from_origin

    from rastercat.client.catalog import Catalog

    token = live_server.token("stac-pixels")
    data = (np.arange(2 * 48 * 64, dtype="uint16").reshape(2, 48, 64) * 7) % 10000
    path: Path = tmp_path_factory.mktemp("stac") / "pair.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=48, count=2, dtype="uint16",
                       crs=UTM43, transform=from_origin(GEOTRANS[0], GEOTRANS[3], 15, 15)) as dst:  # fmt: skip
        dst.write(data)
    with Catalog(url=live_server.url, token=token) as catalog:
        pid = catalog.add_product(f"stac-px-{uuid.uuid4().hex[:8]}", title="t", description="d")[
            "data"
        ]["id"]
        for i, name in enumerate(("red", "green"), start=1):
            catalog.add_band(pid, name, srcband=i, dtype="UInt16", nbits=16, data_range=[0, 10000],
                             physical_range=[0.0, 1.0], type="spectral", nodata=0)  # fmt: skip
        catalog.upload_image(str(path), pid, metadata={"acquired": "2020-05-01T00:00:00Z"})
        catalog.upload_image(str(path), pid, metadata={"image_id": "doomed"})
        catalog.wait_for_image(pid, "pair", timeout=120, poll=0.1)
        catalog.wait_for_image(pid, "doomed", timeout=120, poll=0.1)
    return {"pid": pid, "id": f"{pid}:pair", "data": data, "token": token,
            "client": live_server.client("stac-pixels")}  # fmt: skip

"""A product with real uploaded images on the live server, made once per module for the tile tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from helpers import write_geotiff
from rastercat.client.catalog import Catalog

WAIT = {"timeout": 60, "poll": 0.05}
#: A 256 x 256 image of 0.001 degree pixels whose north-west corner is at (10 E, 45 N).
ORIGIN = (10.0, 45.0)
PIXEL = 0.001
#: value v -> (v, 0, 255 - v, 255): easy to check, unlike any named map.
CUSTOM = [[str(v), "0", str(255 - v), "255"] for v in range(256)]


def image_array(r: int, g: int, b: int, hole: bool = True) -> np.ndarray:
    """Three constant bands; the north-west quarter is nodata (0) when ``hole``."""
    arr = np.stack([np.full((256, 256), v, "uint8") for v in (r, g, b)])
    if hole:
        arr[:, :128, :128] = 0
    return arr


@dataclass
class TileProduct:
    pid: str
    image_id: str
    tmp: Path

    def upload(self, catalog: Catalog, name: str, arr: np.ndarray, acquired: str,
               origin: tuple[float, float] = ORIGIN) -> str:  # fmt: skip
        path = write_geotiff(
            self.tmp / f"{name}.tif",
            arr,
            crs="EPSG:4326",
            transform=(origin[0], PIXEL, 0.0, origin[1], 0.0, -PIXEL),
            nodata=0,
        )
        catalog.upload_image(str(path), self.pid, acquired=acquired)
        catalog.wait_for_image(self.pid, name, **WAIT)
        return f"{self.pid}:{name}"


def add_bands(catalog: Catalog, pid: str) -> None:
    common = dict(srcfile=0, dtype="Byte", nbits=8, data_range=[0, 255], nodata=0, type="spectral")
    catalog.add_band(pid, "red", srcband=1, colormap=CUSTOM, **common)
    catalog.add_band(pid, "green", srcband=2, **common)
    catalog.add_band(pid, "blue", srcband=3, **common)
    catalog.add_band(
        pid, "mag", srcband=2, colormap_name="magma",
        **{**common, "data_range": [0, 200]},
    )  # fmt: skip


@pytest.fixture(scope="module")
def tile_product(
    live_server: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TileProduct]:
    pid = f"tiles-{uuid.uuid4().hex[:10]}"
    with Catalog(url=live_server.url, token=live_server.token("tiles-alice")) as catalog:
        pid = catalog.add_product(pid, title="Tiles", description="tile tests")["data"]["id"]
        add_bands(catalog, pid)
        tp = TileProduct(pid, "", tmp_path_factory.mktemp("tiles"))
        tp.image_id = tp.upload(catalog, "scene", image_array(10, 100, 200), "2018-01-01T00:00:00Z")
        yield tp


@pytest.fixture
def alice(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client("tiles-alice") as c:
        yield c


@pytest.fixture
def bob(live_server: Any) -> Iterator[httpx.Client]:
    with live_server.client("tiles-bob") as c:
        yield c

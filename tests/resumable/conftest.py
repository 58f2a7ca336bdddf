"""Fixtures of the resumable-upload tests: a server per module with small parts allowed, a real
GeoTIFF of a chosen size, and a product to upload into.

The large file's size is ``RASTERCAT_TEST_RESUMABLE_MIB`` (MiB; CI uses the default, 64). The issue
asks for 2 GiB: ``RASTERCAT_TEST_RESUMABLE_MIB=2048`` runs the same tests at that size.
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

CAT = "/metadata/v1/catalog"
BAND = {"name": "b1", "srcband": 1, "dtype": "UInt16", "nbits": 16, "data_range": [0, 65535],
        "type": "spectral"}  # fmt: skip
LARGE_MIB = int(os.environ.get("RASTERCAT_TEST_RESUMABLE_MIB", "64"))


def geotiff_of(path: Path, mib: int, seed: int = 1) -> Path:
    """A one-band UInt16 GeoTIFF of about ``mib`` MiB (uncompressed), written in strips so that
    even 2 GiB never sits in memory at once."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    side = int((mib * 2**20 / 2) ** 0.5) // 16 * 16
    profile = {"driver": "GTiff", "width": side, "height": side, "count": 1, "dtype": "uint16",
               "crs": "EPSG:32643", "transform": Affine(15, 0, 391395, 0, -15, 5596530),
               "tiled": True, "blockxsize": 256, "blockysize": 256, "BIGTIFF": "IF_SAFER"}  # fmt: skip
    rng = np.random.default_rng(seed)
    rows = 1024
    with rasterio.open(path, "w", **profile) as dst:
        for y in range(0, side, rows):
            h = min(rows, side - y)
            base = (np.arange(side, dtype="uint32")[None, :] + y) % 4096
            noise = rng.integers(0, 64, size=(h, side), dtype="uint32")
            dst.write((base + noise).astype("uint16"), 1, window=Window(0, y, side, h))
    return path


@pytest.fixture(scope="module")
def large_tif(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return geotiff_of(tmp_path_factory.mktemp("large") / "large.tif", LARGE_MIB)


@pytest.fixture
def small_tif(tmp_path: Path) -> Path:
    return write_geotiff(tmp_path / "small.tif", np.arange(64 * 64, dtype="uint16").reshape(64, 64))


def make_product(server: Any, name: str = "alice") -> str:
    c = server.client(name)
    pid = f"res-{uuid.uuid4().hex[:8]}"
    r = c.post(f"{CAT}/products", json={"id": pid, "title": "T", "description": "D"})
    assert r.status_code == 201, r.text
    pid = r.json()["data"]["id"]
    assert c.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201
    return str(pid)


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 in server mode on a free port of 127.0.0.1 (as in tests/scale)."""
    pytest.importorskip("moto.server")
    import socket

    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()

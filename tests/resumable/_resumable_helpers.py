"""Helpers of the resumable-upload tests (imported by name: ``conftest`` is ambiguous here)."""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import numpy as np

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


def make_product(server: Any, name: str = "alice") -> str:
    c = server.client(name)
    pid = f"res-{uuid.uuid4().hex[:8]}"
    r = c.post(f"{CAT}/products", json={"id": pid, "title": "T", "description": "D"})
    assert r.status_code == 201, r.text
    pid = r.json()["data"]["id"]
    assert c.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201
    return str(pid)


def root_conftest() -> Any:
    """tests/conftest.py as a module: ``LiveServer`` and ``make_settings``."""
    name = "rastercat_tests_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).parents[1] / "conftest.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]

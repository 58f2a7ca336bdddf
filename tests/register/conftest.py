"""Fixtures of the registration tests: a server allowed to register from one folder, a product
with one UInt16 band, and real COGs and GeoTIFFs written by rasterio."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from rastercat.config import RegisterSettings
from scale.conftest import s3_endpoint, s3_settings, s3_store  # noqa: F401

CAT = "/metadata/v1/catalog"
UTM43 = "EPSG:32643"
GT = (391395.0, 30.0, 0.0, 5596530.0, 0.0, -30.0)
BAND = dict(name="b", srcband=1, nbits=16, dtype="UInt16", data_range=[0, 65535], type="spectral")


def pixels(seed: int, side: int = 300) -> np.ndarray:
    rows, cols = np.mgrid[0:side, 0:side]
    return ((rows * 7 + cols * 3 + seed * 101) % 5000 + 1).astype("uint16")


def write_cog(path: Path, data: np.ndarray, **kw: Any) -> Path:
    """A COG written by GDAL's COG driver (through a GeoTIFF in memory)."""
    import rasterio
    import rasterio.shutil
    from affine import Affine
    from rasterio.io import MemoryFile

    profile = dict(driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                   dtype=data.dtype.name, crs=UTM43, transform=Affine.from_gdal(*GT))  # fmt: skip
    with MemoryFile() as mem:
        with mem.open(**profile) as ds:
            ds.write(data, 1)
        with mem.open() as src:
            rasterio.shutil.copy(src, path, driver="COG", blocksize=256, **kw)
    return path


@pytest.fixture
def cogs(tmp_path: Path) -> Path:
    root = tmp_path / "cogs"
    root.mkdir()
    return root


@pytest.fixture
def server(server_factory: Any, cogs: Path) -> Any:
    return server_factory(registration=RegisterSettings(roots=[cogs]))


@pytest.fixture
def alice(server: Any) -> httpx.Client:
    return server.client("alice")


@pytest.fixture
def product(alice: httpx.Client, unique: str) -> str:
    r = alice.post(f"{CAT}/products", json={"id": f"r-{unique}", "title": "T", "description": "D"})
    pid = r.json()["data"]["id"]
    assert alice.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201
    return str(pid)


def register(client: httpx.Client, pid: str, *items: Any) -> httpx.Response:
    data = [{"href": i} if isinstance(i, str) else i for i in items]
    return client.post(f"{CAT}/products/{pid}/images/register", json={"data": data})


def stored_files(server: Any) -> list[str]:
    return list(server.state.objects.list(""))


@pytest.fixture
def catalog_env(server: Any) -> Iterator[None]:
    with server.env("alice"):
        yield

"""A live server of its own for the OpenAPI fuzz, seeded through the public API.

The fuzzing user ("fuzzer") reads and writes one product owned by another user ("seeder"): it can
change that product, its bands and images (so those paths are exercised with ids that exist), but
not delete them (deleting needs ownership). It may only read a second product, so whatever the
fuzz changes, pixel reads and tiles always have intact images to work on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from helpers import wait_for, write_geotiff
from live import LiveServer, make_settings

CAT = "/metadata/v1/catalog"
#: 64 x 64 pixels of 0.001 degree whose north-west corner is at (10 E, 45 N).
ORIGIN = (10.0, 45.0)
PIXEL = 0.001
TILE_ZOOM = 12


@dataclass
class Seeded:
    """Ids that exist on the fuzzed server, by the name of the path parameter they fill."""

    pid: str
    readonly_pid: str
    bands: list[str]
    images: list[str]  # keys, in both products
    uploads: list[str]
    task_id: str
    dltile_key: str
    tile: tuple[int, int, int]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pids(self) -> list[str]:
        return [self.pid, self.readonly_pid]

    @property
    def point(self) -> tuple[float, float]:
        """A lon/lat inside the seeded images (the point query)."""
        return (ORIGIN[0] + 0.03, ORIGIN[1] - 0.03)

    @property
    def image_ids(self) -> list[str]:
        return [f"{pid}:{k}" for pid in self.pids for k in self.images]

    @property
    def band_ids(self) -> list[str]:
        return [f"{pid}:{b}" for pid in self.pids for b in self.bands]


def _band(name: str, srcband: int, **kw: Any) -> dict[str, Any]:
    return {
        "name": name, "srcband": srcband, "srcfile": 0, "dtype": "Byte", "nbits": 8,
        "data_range": [0, 255], "nodata": 0, "type": "spectral", **kw,
    }  # fmt: skip


def _upload(client: httpx.Client, pid: str, path: Path, acquired: str) -> None:
    r = client.post(f"{CAT}/products/{pid}/images/upload/{path.name}", json={"acquired": acquired})
    assert r.status_code == 200, r.text
    put = httpx.put(r.text, content=path.read_bytes(), timeout=60)
    assert put.status_code == 200, put.text

    def done() -> dict[str, Any] | None:
        res = client.get(f"{CAT}/products/{pid}/uploads/{path.name}", params={"wait": 5})
        attrs = res.json()["data"]["attributes"]
        return attrs if attrs["status"] in ("SUCCESS", "FAILURE") else None

    attrs = wait_for(done, timeout=120, what=f"ingest of {path.name}")
    assert attrs["status"] == "SUCCESS", attrs


BANDS = ("red", "green", "blue")
IMAGES = ("a", "b")


def _product(owner: httpx.Client, name: str, tmp: Path, **acl: list[str]) -> str:
    """A product with three Byte bands and two processed 64 x 64 images, ``a`` and ``b``."""
    r = owner.post(
        f"{CAT}/products",
        json={"id": name, "title": "Fuzz", "description": "seeded for the fuzz", **acl},
    )
    assert r.status_code == 201, r.text
    pid = str(r.json()["data"]["id"])
    for i, band in enumerate(BANDS, start=1):
        kw = {"colormap_name": "magma"} if band == "red" else {}
        r = owner.post(f"{CAT}/products/{pid}/bands", json=_band(band, i, **kw))
        assert r.status_code == 201, r.text
    rng = np.random.default_rng(0)
    for i, key in enumerate(IMAGES):
        arr = rng.integers(1, 255, size=(3, 64, 64), dtype="uint8")
        path = write_geotiff(
            tmp / f"{key}.tif",
            arr,
            crs="EPSG:4326",
            transform=(ORIGIN[0] + i * 0.02, PIXEL, 0.0, ORIGIN[1], 0.0, -PIXEL),
            nodata=0,
        )
        _upload(owner, pid, path, acquired=f"2020-0{i + 1}-15T10:00:00Z")
    return pid


def seed(server: LiveServer, tmp: Path) -> Seeded:
    owner = server.client("seeder")
    fuzzer = server.client("fuzzer")
    me = fuzzer.get("/whoami").json()["principals"]
    pid = _product(owner, "fuzz-seed", tmp, read=me, writers=me)
    readonly_pid = _product(owner, "fuzz-readonly", tmp, read=me)
    # A finished deletion task of the fuzzer's own, so its status route has an id to answer.
    r = fuzzer.post(f"{CAT}/products", json={"id": "fuzz-doomed", "title": "T", "description": "D"})
    assert r.status_code == 201, r.text
    doomed = r.json()["data"]["id"]
    assert fuzzer.post(f"{CAT}/products/{doomed}/bands", json=_band("x", 1)).status_code == 201
    r = fuzzer.delete(f"{CAT}/products/{doomed}", params={"cascade": "true"})
    assert r.status_code == 200, r.text
    task_id = r.json()["deletion_task"]
    r = fuzzer.get(
        "/raster/v1/dlkeys/from_latlon/44.98/10.03", params={"resolution": 10, "tilesize": 256}
    )
    assert r.status_code == 200, r.text
    dltile_key = r.json()["properties"]["key"]
    import morecantile

    t = morecantile.tms.get("WebMercatorQuad").tile(ORIGIN[0] + 0.03, ORIGIN[1] - 0.03, TILE_ZOOM)
    owner.close()
    fuzzer.close()
    return Seeded(
        pid=pid,
        readonly_pid=readonly_pid,
        bands=list(BANDS),
        images=list(IMAGES),
        uploads=[f"{k}.tif" for k in IMAGES],
        task_id=task_id,
        dltile_key=dltile_key,
        tile=(t.z, t.x, t.y),
    )


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of the fuzz's own: what the fuzz creates and changes stays out of other tests."""
    server = LiveServer(make_settings(tmp_path_factory.mktemp("fuzz-server"))).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def seeded(fuzz_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    return seed(fuzz_server, tmp_path_factory.mktemp("fuzz-rasters"))


@pytest.fixture(autouse=True)
def _schemathesis_pytest92_shim(request: pytest.FixtureRequest) -> None:
    """schemathesis 4.32's lazy-fixture tests read ``request.node._nodeid``, which pytest 9.2
    no longer has (node ids became structured); give it the string id it expects."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid

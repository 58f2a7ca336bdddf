"""Helpers shared by the ingest tests (imported by name: tests/ingest is on sys.path)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rasterio.transform import from_origin

from helpers import wait_for

UTM43 = "EPSG:32643"
UTM43_TRANSFORM = from_origin(391395.0, 5596530.0, 15.0, 15.0)


def noisy(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """Compressible but not constant pixels of ``dtype``."""
    rng = np.random.default_rng(seed)
    base = np.add.outer(np.arange(shape[-2]), np.arange(shape[-1])) % 200
    arr = np.broadcast_to(base, shape) + rng.integers(0, 20, size=shape)
    if np.dtype(dtype).kind == "i":
        arr = arr - 50
    return arr.astype(dtype)


CAT = "/metadata/v1/catalog"
BAND = {
    "name": "b1", "srcband": 1, "srcfile": 0, "dtype": "UInt16", "nbits": 16,
    "data_range": [0, 10000], "type": "spectral",
}  # fmt: skip


class Uploads:
    """Uploads over the real HTTP API (the two steps of the wire protocol) and their results."""

    def __init__(self, server: Any, user: str = "alice") -> None:
        self.client = server.client(user)
        self.anon = httpx.Client(timeout=60)

    def product(self) -> str:
        pid = f"ing-{uuid.uuid4().hex[:10]}"
        r = self.client.post(f"{CAT}/products", json={"id": pid, "title": "T", "description": "D"})
        assert r.status_code == 201, r.text
        pid = r.json()["data"]["id"]
        r = self.client.post(f"{CAT}/products/{pid}/bands", json=BAND)
        assert r.status_code == 201, r.text
        return str(pid)

    def upload(self, pid: str, path: Path) -> str:
        body = {"process_controls": {"upload_type": "file"}}
        r = self.client.post(f"{CAT}/products/{pid}/images/upload/{path.name}", json=body)
        assert r.status_code == 200, r.text
        assert self.anon.put(r.text, content=path.read_bytes()).status_code == 200
        return path.name

    def result(self, pid: str, upload_id: str) -> dict[str, Any]:
        r = self.client.get(f"{CAT}/products/{pid}/uploads/{upload_id}")
        assert r.status_code == 200, r.text
        return dict(r.json()["data"]["attributes"])

    def wait(self, pid: str, upload_id: str, timeout: float = 120) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            attrs = self.result(pid, upload_id)
            return attrs if attrs["status"] in ("SUCCESS", "FAILURE") else None

        return dict(wait_for(done, timeout, what=f"upload {upload_id} to finish"))

    def close(self) -> None:
        self.client.close()
        self.anon.close()

"""Helpers of the permission tests: users in every role, and a shared product with a band,
an ingested image (real pixels) and a metadata-only image."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from helpers import insert_images as insert_image_records
from helpers import wait_for, write_geotiff
from rastercat.catalog.tokens import mint_user_token

CAT = "/metadata/v1/catalog"
META = "/metadata/v1"

BLUE = dict(
    name="blue", srcfile=0, srcband=1, nbits=16, dtype="UInt16",
    data_range=[0, 10000], physical_range=[0, 1], type="spectral",
)  # fmt: skip

# Roles of the access matrix. The readers differ only in how they are readers.
READERS = ("reader_user", "reader_group", "reader_org")
ROLES = ("owner", "writer", *READERS, "outsider", "no_token", "expired")


@dataclass
class World:
    """Users in every role (their clients by role) and names built from one unique suffix."""

    server: Any
    suffix: str
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return f"pm-g-{self.suffix}"

    @property
    def org(self) -> str:
        return f"pm-o-{self.suffix}"

    def namespace(self, role: str) -> str:
        return self.server.state.users.get_user(self.names[role])["namespace"]

    def acl(self) -> dict[str, list[str]]:
        """The ACL the owner gives: each reader through a different kind of principal. The group
        is given bare, as the guide does (``'some:group'`` means a group)."""
        return {
            "read": [f"user:{self.namespace('reader_user')}", self.group, f"org:{self.org}"],
            "writers": [f"user:{self.namespace('writer')}"],
        }

    def close(self) -> None:
        for c in self.clients.values():
            c.close()


def make_world(server: Any) -> World:
    world = World(server, uuid.uuid4().hex[:8])
    s = world.suffix
    spec: dict[str, dict[str, Any]] = {
        "owner": {},
        "writer": {},
        "reader_user": {},
        "reader_group": {"groups": (world.group,)},
        "reader_org": {"org": world.org},
        # In another group and org, so a match by mistake would show.
        "outsider": {"groups": (f"pm-other-{s}",), "org": f"pm-other-{s}"},
    }
    for role, kw in spec.items():
        name = f"pm-{role}-{s}"
        world.names[role] = name
        world.clients[role] = server.client(name) if not kw else _client(server, name, **kw)
    world.clients["no_token"] = httpx.Client(base_url=server.url, timeout=60)
    sub = server.state.users.add_user(f"pm-expired-{s}")["sub"]
    expired = mint_user_token(server.state.secret, sub, days=-1)
    world.clients["expired"] = httpx.Client(
        base_url=server.url, headers={"Authorization": expired}, timeout=60
    )
    return world


def _client(server: Any, name: str, **kw: Any) -> httpx.Client:
    server.token(name, **kw)
    return server.client(name)


def create_product(client: httpx.Client, pid: str, **attrs: Any) -> str:
    r = client.post(
        f"{CAT}/products", json={"id": pid, "title": "Shared", "description": "D", **attrs}
    )
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


def add_band(client: httpx.Client, pid: str, **attrs: Any) -> str:
    r = client.post(f"{CAT}/products/{pid}/bands", json={**BLUE, **attrs})
    assert r.status_code == 201, r.text
    return str(r.json()["data"]["id"])


def upload_tif(client: httpx.Client, pid: str, path: Path, **metadata: Any) -> None:
    """Both steps of an upload, then wait until its image exists."""
    r = client.post(f"{CAT}/products/{pid}/images/upload/{path.name}", json=metadata)
    assert r.status_code == 200, r.text
    put = httpx.put(r.text, content=path.read_bytes(), timeout=60)
    assert put.status_code == 200, put.text

    def done() -> dict[str, Any] | None:
        res = client.get(f"{CAT}/products/{pid}/uploads/{path.name}")
        doc = res.json()["data"]["attributes"]
        return doc if doc["status"] in ("SUCCESS", "FAILURE") else None

    doc = wait_for(done, timeout=60, what=f"ingest of {path.name}")
    assert doc["status"] == "SUCCESS", doc


def tiny_tif(tmp: Path, name: str = "img.tif") -> Path:
    data = (np.arange(32 * 32, dtype="uint16").reshape(32, 32) % 1000) + 1
    return write_geotiff(tmp / name, data)


def insert_images(
    state: Any, pid: str, n: int, *, files: int = 0, tmp: Path | None = None
) -> list[str]:
    """``n`` metadata images inserted straight through the store's image writer (not n HTTP
    calls), with the product's current ACL; the first ``files`` get a small stored file. Returns
    the image ids."""
    from rastercat.store.sql.repo import t

    product = state.repo.one(t.products, id=pid)
    records: dict[str, dict[str, Any]] = {}
    storage: dict[str, dict[str, Any]] = {}
    for i in range(n):
        key = f"bulk-{i}"
        storage_key = f"products/{product['uid']}/{key}.tif" if i < files else None
        if storage_key is not None:
            assert tmp is not None
            src = tmp / f"{key}.bin"
            src.write_bytes(b"not really a tiff")
            state.objects.put_file(src, storage_key)
        records[key] = {"key": key}
        storage[key] = {"storage_key": storage_key}
    return insert_image_records(state.repo, product, records, storage)

from __future__ import annotations

from typing import Any

import httpx
import pytest

CAT = "/metadata/v1/catalog"

BLUE = dict(
    name="blue", srcfile=0, srcband=1, nbits=14, dtype="UInt16",
    data_range=[0, 10000], physical_range=[0, 1], type="spectral",
)  # fmt: skip


@pytest.fixture
def alice(live_server: Any) -> httpx.Client:
    return live_server.client("alice")


@pytest.fixture
def bob(live_server: Any) -> httpx.Client:
    return live_server.client("bob")


@pytest.fixture
def product(alice: httpx.Client, unique: str) -> str:
    r = alice.post(f"{CAT}/products", json={"id": f"p-{unique}", "title": "T", "description": "D"})
    assert r.status_code == 201, r.text
    return r.json()["data"]["id"]


@pytest.fixture
def band(alice: httpx.Client, product: str) -> str:
    r = alice.post(f"{CAT}/products/{product}/bands", json=BLUE)
    assert r.status_code == 201, r.text
    return r.json()["data"]["id"]


def error_detail(r: httpx.Response) -> str:
    return r.json()["errors"][0]["detail"]

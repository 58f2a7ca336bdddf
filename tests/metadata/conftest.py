"""Seed images straight through the API (metadata only; pixels are not needed to search)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

CAT = "/metadata/v1/catalog"
META = "/metadata/v1"


def box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


@pytest.fixture
def seeded(live_server: Any, unique: str) -> dict[str, Any]:
    c: httpx.Client = live_server.client("searcher")
    pid = c.post(
        f"{CAT}/products", json={"id": f"s-{unique}", "title": "Search", "description": "D"}
    ).json()["data"]["id"]
    c.post(
        f"{CAT}/products/{pid}/bands",
        json=dict(name="b", srcband=1, nbits=8, dtype="Byte", data_range=[0, 255], type="spectral"),
    )
    images = {
        "a": dict(acquired="2018-01-05T00:00:00Z", geometry=box(0, 0, 1, 1), cloud_fraction=0.1, sat_id="S1",
                  extra_properties={"tile": "x1", "score": 5}),
        "b": dict(acquired="2018-02-10T12:00:00Z", geometry=box(2, 2, 3, 3), cloud_fraction=0.5, sat_id="S2"),
        "c": dict(acquired="2018-03-15T00:00:00Z", geometry=box(0.5, 0.5, 2.5, 2.5), cloud_fraction=0.9, sat_id="S1"),
        # An L-shaped footprint whose bbox covers (4.5, 4.5) but whose polygon does not.
        "l": dict(acquired="2018-04-01T00:00:00Z",
                  geometry={"type": "Polygon", "coordinates": [[[4, 4], [6, 4], [6, 4.2], [4.2, 4.2], [4.2, 6], [4, 6], [4, 4]]]}),
        # Split at the antimeridian, as ingest stores such footprints.
        "am": dict(acquired="2018-05-01T00:00:00Z",
                   geometry={"type": "MultiPolygon", "coordinates": [
                       [[[179, 10], [180, 10], [180, 11], [179, 11], [179, 10]]],
                       [[[-180, 10], [-179, 10], [-179, 11], [-180, 11], [-180, 10]]]]}),
    }  # fmt: skip
    for key, attrs in images.items():
        r = c.post(f"{CAT}/products/{pid}/images", json={"id": key, **attrs})
        assert r.status_code == 201, r.text
    return {"pid": pid, "client": c, "ids": {k: f"{pid}:{k}" for k in images}}

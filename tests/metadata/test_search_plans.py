"""Both search plans (the spatial index, or a walk of the date index checking each row's bbox)
answer every search with the same images in the same order, page by page.

``Repo.date_index_pays`` picks the date index for large areas over short windows (a zoomed-out map);
which plan runs must never show in the results.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from tests.metadata.conftest import CAT, META, box

WORLD = box(-180, -90, 180, 90)
# Not a rectangle: the exact check runs for every bbox not inside it.
TRIANGLE = {"type": "Polygon", "coordinates": [[[-170, -80], [170, -80], [0, 80], [-170, -80]]]}


@pytest.fixture(scope="module")
def spread(live_server: Any) -> dict[str, Any]:
    """60 images over the globe and one month of 2019, some sharing a timestamp (ties by pk),
    some L-shaped (bbox meets areas the footprint does not), one with no date."""
    c = live_server.client("planner")
    pid = c.post(
        f"{CAT}/products", json={"id": "plans", "title": "Plans", "description": "D"}
    ).json()["data"]["id"]
    rng = random.Random(5)
    for i in range(60):
        x, y, size = rng.uniform(-179, 170), rng.uniform(-85, 80), rng.uniform(0.5, 8)
        geometry = box(x, y, x + size, y + size)
        if i % 5 == 0:
            geometry = {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + 0.1],
                        [x + 0.1, y + 0.1], [x + 0.1, y + size], [x, y + size], [x, y]]]}  # fmt: skip
        day = 1 + (i % 28)
        attrs: dict[str, Any] = {"geometry": geometry, "cloud_fraction": round(rng.random(), 2)}
        if i != 7:
            attrs["acquired"] = f"2019-03-{day:02d}T{(i % 3) * 6:02d}:00:00Z"
        r = c.post(f"{CAT}/products/{pid}/images", json={"id": f"i{i:02d}", **attrs})
        assert r.status_code == 201, r.text
    return {"pid": pid, "client": c}


@pytest.fixture
def plan(live_server: Any) -> Iterator[Any]:
    repo = live_server.state.repo

    def use(name: str) -> None:
        repo.search_plan = name

    yield use
    repo.search_plan = "auto"


def all_pages(client: Any, body: dict[str, Any]) -> list[list[str]]:
    pages, token = [], None
    while True:
        r = client.post(
            f"{META}/search", json={**body, **({"continuation_token": token} if token else {})}
        )
        assert r.status_code == 200, r.text
        pages.append([f["id"] for f in r.json()])
        token = r.headers["X-Continuation-Token"]
        if not token:
            return pages
        assert len(pages) < 100


BODIES = [
    {"geom": WORLD, "start_datetime": "2019-03-03", "end_datetime": "2019-03-10"},
    {"geom": WORLD, "start_datetime": "2019-03-03", "end_datetime": "2019-03-10", "sort_order": "desc"},
    {"geom": WORLD},
    {"geom": WORLD, "sort_order": "desc"},
    {"geom": TRIANGLE, "start_datetime": "2019-03-01", "end_datetime": "2019-03-20"},
    {"geom": box(-90, -45, 90, 45), "end_datetime": "2019-03-15T06:00:00Z"},
    {"geom": box(-20, -20, 20, 20), "start_datetime": "2019-03-05"},
    {"geom": WORLD, "start_datetime": "2019-03-01", "query_expr": {"range": {"cloud_fraction": {"lt": 0.5}}}},
]  # fmt: skip


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("limit", [1, 7, 100])
def test_both_plans_give_the_same_pages(spread: Any, plan: Any, body: dict, limit: int) -> None:
    body = {**body, "products": [spread["pid"]], "limit": limit}
    plan("spatial")
    expected = all_pages(spread["client"], body)
    plan("date")
    assert all_pages(spread["client"], body) == expected
    plan("auto")
    assert all_pages(spread["client"], body) == expected
    assert sum(map(len, expected)) > 0


def test_the_plans_agree_on_what_an_area_excludes(spread: Any, plan: Any) -> None:
    # The L-shaped footprints' bboxes meet this box; their polygons do not all do.
    body = {"products": [spread["pid"]], "geom": box(-100, -50, 100, 50), "limit": 1000}
    plan("spatial")
    (spatial,) = all_pages(spread["client"], body)
    plan("date")
    (walked,) = all_pages(spread["client"], body)
    assert walked == spatial
    plan("auto")
    (whole,) = all_pages(spread["client"], {**body, "geom": WORLD})
    assert set(walked) < set(whole)

"""Every Metadata route that takes a JSON body answers odd values of every parameter it knows with
a 4xx naming what is wrong, never a 500 (each key alone, values of every JSON type)."""

from __future__ import annotations

from typing import Any

import pytest

from metadata.conftest import META, box

KEYS = ["products", "product", "geom", "start_datetime", "end_datetime", "start_time",
        "end_time", "date", "cloud_fraction", "cloud_fraction_0", "fill_fraction", "sat_ids",
        "sat_id", "query_expr", "limit", "offset", "sort_field", "sort_order", "random_seed",
        "continuation_token", "fields", "interval", "pixels", "ids", "text", "owner", "bands",
        "ignore_not_found"]  # fmt: skip
ODD = [5, -1, 0.5, 1e308, True, "x", "", [], [1], [[1]], {}, {"a": 1}, {"and": 5},
       {"range": {"x": "y"}}, "2019-01-01"]  # fmt: skip
ROUTES = ["search", "summary", "products/search", "bands/search", "batch/images"]


@pytest.mark.parametrize("route", ROUTES)
def test_odd_values_get_a_4xx_naming_the_problem(live_server: Any, unique: str, route: str):
    c = live_server.client("odd-bodies")
    pid = c.post(
        f"{META}/catalog/products", json={"id": f"odd-{unique}", "title": "T", "description": "D"}
    ).json()["data"]["id"]
    body = {"id": "a", "acquired": "2019-01-01T00:00:00Z", "geometry": box(0, 0, 1, 1)}
    assert c.post(f"{META}/catalog/products/{pid}/images", json=body).status_code == 201
    seen_400 = 0
    for key in KEYS:
        for value in ODD:
            body = {key: value} if key in ("products", "ids") else {"products": [pid], key: value}
            r = c.post(f"{META}/{route}", json=body)
            assert r.status_code < 500, (route, key, value, r.text)
            if r.status_code == 400:
                seen_400 += 1
                error = r.json()["errors"][0]
                assert error["detail"] and error["status"] == "400", (route, key, value)
    assert seen_400 > 0

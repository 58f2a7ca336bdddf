"""Metadata search through the HTTP API: filters, exact geometry, paging, projection, summary."""

from __future__ import annotations

import json

import pytest

from metadata.conftest import META, box
from rastercat.catalog.metadata import MetadataService


def _search(c, **body):
    body.setdefault("limit", 1000)
    r = c.post(f"{META}/search", json=body)
    assert r.status_code == 200, r.text
    assert "X-Continuation-Token" in r.headers
    return r


def keys(r) -> list[str]:
    return [f["key"] for f in r.json()]


def test_search_by_product_returns_bare_array_of_features(seeded):
    r = _search(seeded["client"], products=[seeded["pid"]], date="acquired", sort_order="asc")
    feats = r.json()
    assert isinstance(feats, list)
    assert keys(r) == ["a", "b", "c", "l", "am"]
    f = feats[0]
    assert f["type"] == "Feature" and f["id"] == seeded["ids"]["a"]
    assert f["properties"]["product"] == seeded["pid"] and f["properties"]["cloud_fraction"] == 0.1
    assert f["geometry"]["type"] == "Polygon"
    assert r.headers["X-Continuation-Token"] == ""


def test_sort_desc(seeded):
    r = _search(
        seeded["client"], products=[seeded["pid"]], sort_field="acquired", sort_order="desc"
    )
    assert keys(r) == ["am", "l", "c", "b", "a"]
    r = _search(
        seeded["client"], products=[seeded["pid"]], sort_field="cloud_fraction", sort_order="desc"
    )
    assert keys(r)[:3] == ["c", "b", "a"]


def test_date_range_is_inclusive(seeded):
    r = _search(seeded["client"], products=[seeded["pid"]], start_datetime="2018-02-10T12:00:00Z",
                end_datetime="2018-03-15")  # fmt: skip
    assert keys(r) == ["b", "c"]


def test_geometry_is_exact_not_bbox(seeded):
    c, pid = seeded["client"], seeded["pid"]
    assert keys(_search(c, products=[pid], geom=json.dumps(box(4.4, 4.4, 4.6, 4.6)))) == []
    assert keys(_search(c, products=[pid], geom=json.dumps(box(4.05, 4.05, 4.1, 4.1)))) == ["l"]
    assert keys(_search(c, products=[pid], geom=json.dumps(box(0.9, 0.9, 1.1, 1.1)))) == ["a", "c"]
    # WKT is accepted too.
    assert keys(
        _search(c, products=[pid], geom="POLYGON ((2.8 2.8, 2.9 2.8, 2.9 2.9, 2.8 2.9, 2.8 2.8))")
    ) == ["b"]


def test_antimeridian(seeded):
    c, pid = seeded["client"], seeded["pid"]
    assert keys(_search(c, products=[pid], geom=json.dumps(box(-179.8, 10.2, -179.5, 10.5)))) == [
        "am"
    ]
    assert keys(_search(c, products=[pid], geom=json.dumps(box(179.2, 10.2, 179.5, 10.5)))) == [
        "am"
    ]
    # A query written across the antimeridian with longitudes beyond 180.
    assert keys(_search(c, products=[pid], geom=json.dumps(box(179.5, 10.2, 180.5, 10.5)))) == [
        "am"
    ]
    assert keys(_search(c, products=[pid], geom=json.dumps(box(180.2, 10.2, 180.5, 10.5)))) == [
        "am"
    ]
    assert keys(_search(c, products=[pid], geom=json.dumps(box(-181, 10.2, -180.5, 10.5)))) == [
        "am"
    ]
    assert keys(_search(c, products=[pid], geom=json.dumps(box(170, 10.2, 178, 10.5)))) == []


@pytest.mark.parametrize(
    "expr, expected",
    [
        ({"eq": {"sat_id": "S1"}}, ["a", "c"]),
        ({"ne": {"sat_id": "S1"}}, ["b", "l", "am"]),
        ({"range": {"cloud_fraction": {"gt": 0.1, "lte": 0.5}}}, ["b"]),
        ({"range": {"cloud_fraction": {"gte": 0.5}}}, ["b", "c"]),
        ({"like": {"key": "a%"}}, ["a", "am"]),
        ({"like": {"key": "_"}}, ["a", "b", "c", "l"]),
        ({"in": {"key": ["b", "l"]}}, ["b", "l"]),
        ({"or": [{"eq": {"key": "a"}}, {"range": {"cloud_fraction": {"gt": 0.8}}}]}, ["a", "c"]),
        ({"and": [{"eq": {"sat_id": "S1"}}, {"range": {"cloud_fraction": {"lt": 0.5}}}]}, ["a"]),
        ({"eq": {"tile": "x1"}}, ["a"]),
        ({"range": {"score": {"gt": 4}}}, ["a"]),
        ({"range": {"acquired": {"gte": "2018-03-01T00:00:00+00:00"}}}, ["c", "l", "am"]),
    ],
)
def test_query_expr(seeded, expr, expected):
    r = _search(seeded["client"], products=[seeded["pid"]], query_expr={"and": [expr]})
    assert keys(r) == expected


def test_cloud_fraction_is_a_maximum(seeded):
    assert keys(_search(seeded["client"], products=[seeded["pid"]], cloud_fraction=0.5)) == [
        "a",
        "b",
    ]


def test_paging_with_continuation_token(seeded):
    c, pid = seeded["client"], seeded["pid"]
    seen, token = [], None
    while True:
        body = {"products": [pid], "limit": 2}
        if token:
            body["continuation_token"] = token
        r = _search(c, **body)
        seen += keys(r)
        token = r.headers["X-Continuation-Token"]
        if not token:
            break
    assert seen == ["a", "b", "c", "l", "am"]


def test_token_of_another_query_is_rejected(seeded):
    c, pid = seeded["client"], seeded["pid"]
    token = _search(c, products=[pid], limit=1).headers["X-Continuation-Token"]
    r = c.post(
        f"{META}/search",
        json={"products": [pid], "limit": 1, "cloud_fraction": 0.2, "continuation_token": token},
    )
    assert r.status_code == 400


def test_fields_projection(seeded):
    c, pid = seeded["client"], seeded["pid"]
    ids = _search(c, products=[pid], fields=[]).json()
    assert ids[0] == {"id": seeded["ids"]["a"]}
    two = _search(c, products=[pid], fields=["cloud_fraction", "acquired"]).json()
    assert set(two[0]["properties"]) == {"cloud_fraction", "acquired"} and "geometry" not in two[0]
    k = _search(c, products=[pid], fields=["key"]).json()
    assert k[0]["key"] == "a" and k[0]["properties"] == {}


SEARCH_ONLY = {"limit", "sort_order", "continuation_token", "offset", "sort_field"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"geom": "not a geometry"}, "geom"),
        ({"start_datetime": "someday"}, "start_datetime"),
        ({"start_datetime": "2019-01-01", "end_datetime": "2018-01-01"}, "start_datetime"),
        ({"limit": -1}, "limit"),
        ({"sort_order": "sideways"}, "sort_order"),
        ({"query_expr": {"between": {"x": 1}}}, "query_expr"),
        ({"query_expr": {"range": {"x": {"around": 1}}}}, "query_expr"),
        ({"continuation_token": "garbage!"}, "continuation_token"),
        ({"offset": "ten"}, "offset"),
        ({"offset": -3}, "offset"),
        ({"products": 5}, "products"),
        ({"products": [5]}, "products"),
        ({"sort_field": 5}, "sort_field"),
        ({"sort_field": ["a"]}, "sort_field"),
        ({"interval": "fortnight"}, "interval"),
    ],
)
def test_bad_search_bodies(seeded, body, field):
    """400 naming the field, from search and from summary alike (summary ignores paging and
    order; search ignores ``interval``)."""
    for route in ("search", "summary"):
        r = seeded["client"].post(f"{META}/{route}", json={"products": [seeded["pid"]], **body})
        if (route == "summary" and field in SEARCH_ONLY) or (
            route == "search" and field == "interval"
        ):
            assert r.status_code == 200, (route, r.text)
            continue
        assert r.status_code == 400, (route, r.text)
        assert r.json()["errors"][0]["source"]["pointer"] == field


def test_summary(seeded):
    c, pid = seeded["client"], seeded["pid"]
    s = c.post(
        f"{META}/summary", json={"products": [pid], "interval": "month", "pixels": True}
    ).json()
    assert s["count"] == 5 and s["products"] == [pid] and s["pixels"] == 0 and s["bytes"] == 0
    assert [(i["date"], i["count"]) for i in s["items"]] == [
        ("2018-01-01T00:00:00", 1), ("2018-02-01T00:00:00", 1), ("2018-03-01T00:00:00", 1),
        ("2018-04-01T00:00:00", 1), ("2018-05-01T00:00:00", 1),
    ]  # fmt: skip
    by_product = c.post(f"{META}/summary", json={"products": [pid], "interval": "product"}).json()
    assert by_product["items"] == [{"product": pid, "count": 5, "bytes": 0}]
    assert (
        c.post(f"{META}/summary", json={"products": [pid], "interval": "fortnight"}).status_code
        == 400
    )


def test_get_and_batch(seeded):
    c = seeded["client"]
    img = c.get(f"{META}/get/{seeded['ids']['a']}").json()
    assert (
        img["id"] == seeded["ids"]["a"]
        and img["key"] == "a"
        and img["geometry"]["type"] == "Polygon"
    )
    assert c.get(f"{META}/get/{seeded['pid']}:nope").status_code == 404
    ids = [seeded["ids"]["b"], f"{seeded['pid']}:nope", seeded["ids"]["a"]]
    got = c.post(f"{META}/batch/images", json={"ids": ids, "ignore_not_found": True}).json()
    assert [g["key"] for g in got] == ["b", "a"]
    assert (
        c.post(f"{META}/batch/images", json={"ids": ids, "ignore_not_found": False}).status_code
        == 404
    )


def test_products_and_bands_routes(seeded):
    c, pid = seeded["client"], seeded["pid"]
    assert pid in c.get(f"{META}/products").json()
    assert c.get(f"{META}/products/{pid}").json()["title"] == "Search"
    assert [
        p["id"]
        for p in c.post(f"{META}/products/search", json={"text": "search", "bands": ["b"]}).json()
    ].count(pid) == 1
    assert c.post(f"{META}/products/search", json={"bands": ["zzz"]}).json() == []
    by_id = c.get(f"{META}/bands/id/{seeded['ids']['a']}").json()
    assert (
        list(by_id) == [f"{pid}:b"]
        and by_id[f"{pid}:b"]["name"] == "b"
        and by_id[f"{pid}:b"]["dtype"] == "Byte"
    )
    assert c.get(f"{META}/bands/all/{pid}").json() == by_id
    assert c.get(f"{META}/bands/{pid}:b").json()["id"] == f"{pid}:b"
    assert c.get(f"{META}/bands/{pid}:zzz").status_code == 404


def test_other_users_see_nothing(seeded, live_server):
    other = live_server.client("stranger")
    assert other.post(f"{META}/search", json={"products": [seeded["pid"]]}).json() == []
    assert other.post(f"{META}/search", json={"geom": json.dumps(box(0, 0, 1, 1))}).json() == []
    assert other.get(f"{META}/get/{seeded['ids']['a']}").status_code == 404
    assert other.post(f"{META}/summary", json={"products": [seeded["pid"]]}).json()["count"] == 0
    assert other.get(f"{META}/bands/all/{seeded['pid']}").status_code == 404
    assert seeded["pid"] not in other.get(f"{META}/products").json()


def test_numeric_range_over_mixed_types(seeded):
    """A numeric range where some images hold a string or a bool under that name: those never
    match, and nothing fails (PostgreSQL must not cast 'x1' to a number)."""
    c, pid = seeded["client"], seeded["pid"]
    for key, value in (("s1", "x1"), ("s2", True), ("s3", 7.5)):
        r = c.post(f"/metadata/v1/catalog/products/{pid}/images",
                   json={"id": key, "extra_properties": {"tile": value}})  # fmt: skip
        assert r.status_code == 201, r.text
    r = _search(c, products=[pid], query_expr={"and": [{"range": {"tile": {"gt": 1}}}]})
    assert keys(r) == ["s3"]
    r = _search(c, products=[pid], query_expr={"or": [{"range": {"tile": {"lt": 100}}},
                                                      {"eq": {"key": "b"}}]})  # fmt: skip
    assert sorted(keys(r)) == ["b", "s3"]


def test_pages_are_complete_when_exact_checks_drop_most_candidates(live_server, unique):
    """Search reads candidates from SQL in growing batches sized for the page; when the exact
    geometry check rejects most of them, pages must still be full, ordered and gap-free."""
    c = live_server.client("pager")
    pid = c.post(
        f"{META}/catalog/products", json={"id": f"pg-{unique}", "title": "T", "description": "D"}
    ).json()["data"]["id"]
    l_shape = {"type": "Polygon", "coordinates": [[[4, 4], [6, 4], [6, 4.2], [4.2, 4.2], [4.2, 6],
                                                   [4, 6], [4, 4]]]}  # fmt: skip
    expected = []
    for i in range(300):
        hit = i % 10 == 7  # 30 footprints cover the query box; 270 only have a bbox that does
        key = f"i{i:03d}"
        r = c.post(
            f"{META}/catalog/products/{pid}/images",
            json={"id": key, "acquired": f"2019-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
                  "geometry": box(4, 4, 6, 6) if hit else l_shape},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        if hit:
            expected.append(key)
    query = {"products": [pid], "geom": json.dumps(box(4.5, 4.5, 4.6, 4.6)), "limit": 4}
    seen, token = [], None
    while True:
        r = _search(c, **query, **({"continuation_token": token} if token else {}))
        page = keys(r)
        token = r.headers["X-Continuation-Token"]
        assert len(page) == 4 or not token
        seen += page
        if not token:
            break
    assert seen == expected
    # One deep page in one request, and the same in descending order.
    assert keys(_search(c, **{**query, "limit": 25, "offset": 5})) == expected[5:30]
    desc = keys(_search(c, **{**query, "limit": 30, "sort_order": "desc"}))
    assert desc == expected[::-1]


def test_sort_by_a_property_in_the_database(live_server, unique):
    """Numbers by value, then text; missing values last; ties in creation order; ``desc``
    reverses all but the missing ones. A property in ``extra_properties`` sorts too. Pages of a
    sorted search follow each other without gaps."""
    c = live_server.client("sorter")
    pid = c.post(
        f"{META}/catalog/products", json={"id": f"so-{unique}", "title": "T", "description": "D"}
    ).json()["data"]["id"]
    images = {
        "n1": {"cloud_fraction": 0.3, "extra_properties": {"score": 5}},
        "n2": {"cloud_fraction": 0.1, "extra_properties": {"score": "b"}},
        "n3": {"cloud_fraction": 0.3, "extra_properties": {"score": 2.5}},
        "n4": {"extra_properties": {"score": "a"}},
        "n5": {"cloud_fraction": 0.9},
        "n6": {},
    }
    for key, attrs in images.items():
        body = {"id": key, "acquired": "2019-01-01T00:00:00Z", "geometry": box(0, 0, 1, 1), **attrs}
        assert c.post(f"{META}/catalog/products/{pid}/images", json=body).status_code == 201

    def order(field: str, direction: str, limit: int = 100) -> list[str]:
        seen, token = [], None
        while True:
            body = {"products": [pid], "sort_field": field, "sort_order": direction, "limit": limit}
            r = _search(c, **body, **({"continuation_token": token} if token else {}))
            seen += keys(r)
            token = r.headers["X-Continuation-Token"]
            if not token:
                return seen

    assert order("cloud_fraction", "asc") == ["n2", "n1", "n3", "n5", "n4", "n6"]
    assert order("cloud_fraction", "desc") == ["n5", "n1", "n3", "n2", "n4", "n6"]
    assert order("score", "asc") == ["n3", "n1", "n4", "n2", "n5", "n6"]
    assert order("score", "desc") == ["n2", "n4", "n1", "n3", "n5", "n6"]
    assert order("score", "asc", limit=2) == order("score", "asc")
    assert order("key", "desc") == ["n6", "n5", "n4", "n3", "n2", "n1"]
    assert order("id", "asc") == [f"n{i}" for i in range(1, 7)]
    assert order("nothing", "asc") == [f"n{i}" for i in range(1, 7)]  # all missing: by creation
    r = c.post(f"{META}/search", json={"products": [pid], "sort_field": 'a"b'})
    assert r.status_code == 400 and "sort_field" in r.text


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_continuation_pages_in_date_order_with_ties_and_undated_images(
    live_server, unique, direction
):
    """Continuation tokens of a date-ordered search name the last row (date, creation order):
    pages must follow each other exactly through equal dates and images with no date, and the
    same as one big page."""
    c = live_server.client("keyset")
    pid = c.post(
        f"{META}/catalog/products", json={"id": f"ks-{unique}", "title": "T", "description": "D"}
    ).json()["data"]["id"]
    dates = ["2019-01-02T00:00:00Z", "2019-01-01T00:00:00Z", None, "2019-01-02T00:00:00Z"]
    for i in range(40):
        body = {"id": f"k{i:02d}", "geometry": box(0, 0, 1, 1)}
        if dates[i % 4]:
            body["acquired"] = dates[i % 4]
        assert c.post(f"{META}/catalog/products/{pid}/images", json=body).status_code == 201
    whole = keys(_search(c, products=[pid], sort_order=direction, limit=1000))
    assert sorted(whole) == [f"k{i:02d}" for i in range(40)]
    for size in (1, 3, 7):
        seen, token = [], None
        while True:
            body = {"products": [pid], "sort_order": direction, "limit": size}
            r = _search(c, **body, **({"continuation_token": token} if token else {}))
            seen += keys(r)
            token = r.headers["X-Continuation-Token"]
            if not token:
                break
        assert seen == whole, size
    # A token belongs to the query it came from.
    bad = _search(c, products=[pid], limit=2).headers["X-Continuation-Token"]
    r = c.post(f"{META}/search", json={"products": [pid], "limit": 3, "continuation_token": bad})
    assert r.status_code == 400 and "another query" in r.text


def test_summary_in_sql_matches_the_python_path(live_server, unique):
    """The database-computed summary (searches whose conditions are all SQL) gives the same
    numbers as reading every row in Python: per interval, per product, with pixels, with dates,
    for the owner and for a reader who may see only some images of a shared product."""
    owner_token = live_server.token("summ-owner")
    reader_token = live_server.token("summ-reader", groups=("summ-group",))
    c = live_server.client("summ-owner")
    pid = c.post(
        f"{META}/catalog/products", json={"id": f"su-{unique}", "title": "T", "description": "D"}
    ).json()["data"]["id"]
    for i in range(24):
        body = {
            "id": f"s{i:02d}",
            "geometry": box(0, 0, 1, 1),
            "file_sizes": [1000 + i, 7] if i % 5 else [2],
            "raster_size": [100 + i, 50],
        }
        if i % 7:
            body["acquired"] = (
                f"20{18 + i % 3}-{1 + i % 12:02d}-{1 + i:02d}T{i:02d}:{i * 2:02d}:00Z"
            )
        if i % 3 == 0:
            body["read"] = ["group:summ-group"]
        assert c.post(f"{META}/catalog/products/{pid}/images", json=body).status_code == 201
    # Interval edges, where a database's date functions and Python's may part: before 1970
    # (negative epoch, fractional seconds), a Sunday's last instant and the Monday after it,
    # a quarter's first day, a leap day, the last instant of a year.
    edges = ["1969-12-28T23:59:59.5Z", "2021-03-07T23:59:59.999Z", "2021-03-08T00:00:00Z",
             "2021-04-01T00:00:00Z", "2020-02-29T12:30:45Z", "2020-12-31T23:59:59.999999Z"]  # fmt: skip
    for i, when in enumerate(edges):
        body = {"id": f"edge{i}", "geometry": box(0, 0, 1, 1), "acquired": when,
                "file_sizes": [3], "raster_size": [2, 2]}  # fmt: skip
        assert c.post(f"{META}/catalog/products/{pid}/images", json=body).status_code == 201
    r = c.patch(f"{META}/catalog/products/{pid}", json={"read": ["group:summ-group"]})
    assert r.status_code == 200, r.text
    service = MetadataService(live_server.state.repo)
    users = live_server.state.users
    bodies = [{"products": [pid]}, {"products": [pid], "pixels": True}]
    bodies += [{"products": [pid], "interval": i, "pixels": True}
               for i in ("year", "quarter", "month", "week", "day", "hour", "minute", "product")]  # fmt: skip
    bodies += [{"products": [pid], "interval": "month", "start_datetime": "2019-01-01",
                "end_datetime": "2019-12-31"}]  # fmt: skip
    counts = {}
    for name, token in (("owner", owner_token), ("reader", reader_token)):
        p = users.authenticate(token)
        for body in bodies:
            python = service.summary(p, body, in_sql=False)
            assert service.summary(p, body, in_sql=True) == python, (name, body)
            r = live_server.client(name="summ-" + name).post(f"{META}/summary", json=body)
            assert r.status_code == 200 and r.json() == python, (name, body)
        counts[name] = service.summary(p, {"products": [pid]})["count"]
    assert counts == {"owner": 30, "reader": 8}
    # An area makes the exact check Python's: the SQL path refuses, the route still answers.
    geo = {"products": [pid], "geom": json.dumps(box(0.2, 0.2, 0.4, 0.4))}
    with pytest.raises(ValueError, match="only Python"):
        service.summary(users.authenticate(owner_token), geo, in_sql=True)
    assert c.post(f"{META}/summary", json=geo).json()["count"] == 30


def test_random_order_is_fixed_by_its_seed_and_pages(live_server, unique):
    """``random_seed``: a shuffled order, the same for the same seed (so its pages follow each
    other without gaps or repeats), another for another seed, computed by the database."""
    c = live_server.client("shuffler")
    pid = c.post(
        f"{META}/catalog/products", json={"id": f"rs-{unique}", "title": "T", "description": "D"}
    ).json()["data"]["id"]
    for i in range(30):
        body = {"id": f"r{i:02d}", "acquired": "2019-01-01T00:00:00Z", "geometry": box(0, 0, 1, 1)}
        assert c.post(f"{META}/catalog/products/{pid}/images", json=body).status_code == 201
    created = [f"r{i:02d}" for i in range(30)]

    def shuffled(seed: object, limit: int = 100) -> list[str]:
        seen, token = [], None
        while True:
            body = {"products": [pid], "random_seed": seed, "limit": limit}
            r = _search(c, **body, **({"continuation_token": token} if token else {}))
            seen += keys(r)
            token = r.headers["X-Continuation-Token"]
            if not token:
                return seen

    one = shuffled(42)
    assert sorted(one) == created and one != created
    assert shuffled(42) == one and shuffled(42, limit=7) == one
    assert shuffled("another seed") != one

"""The Metadata client against the live server: search and paging, summary, images, products, bands."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
import shapely.geometry
from rasterio.crs import CRS
from rasterio.transform import from_origin

from rastercat.client.metadata import Metadata
from rastercat.client.properties import properties as p
from rastercat.errors import InvalidInput, NotFound

UTM43 = CRS.from_epsg(32643)
DATES = {"a": "2018-01-10T00:00:00Z", "b": "2018-02-10T00:00:00Z", "c": "2018-03-10T00:00:00Z"}
CLOUDS = {"a": 0.1, "b": 0.5, "c": 0.9}


def test_ids_with_path_characters_are_rejected_client_side() -> None:
    token = "x.eyJzdWIiOiAiYSJ9.y"  # {"sub": "a"}; nothing is sent
    with Metadata(url="http://127.0.0.1:9", token=token) as metadata:
        for bad in ("a/b", "a?b", "a#b", ""):
            with pytest.raises(InvalidInput):
                metadata.get(bad)
        with pytest.raises(InvalidInput, match="Places"):
            metadata.search(place="north-america")


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Any:
    try:
        return request.getfixturevalue("live_server")
    except pytest.FixtureLookupError:
        pytest.skip("tests/conftest.py provides no live_server fixture yet")


def _write(path: Path, value: int, east: float) -> Path:
    data = np.full((1, 16, 16), value, "uint16")
    with rasterio.Env(), rasterio.open(
        path, "w", driver="GTiff", width=16, height=16, count=1, dtype="uint16", crs=UTM43,
        transform=from_origin(391395.0 + east, 5596530.0, 15, 15),
    ) as dst:  # fmt: skip
        dst.write(data)
    return path


@pytest.fixture(scope="module")
def seeded(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Three images a, b, c (one band) in a new product, ~2.4 km apart west to east."""
    from rastercat.client.catalog import Catalog

    tmp = tmp_path_factory.mktemp("metadata")
    token = server.token("metadata-alice")
    with Catalog(url=server.url, token=token) as catalog:
        pid = catalog.add_product(f"meta-{uuid.uuid4().hex[:8]}", title="Meta", description="d")[
            "data"
        ]["id"]
        catalog.add_band(pid, "gray", srcband=1, dtype="UInt16", nbits=16, data_range=[0, 100],
                         type="spectral", resolution=15)  # fmt: skip
        for i, key in enumerate(DATES):
            catalog.upload_image(str(_write(tmp / f"{key}.tif", i + 1, east=i * 2400.0)), pid,
                                 acquired=DATES[key], cloud_fraction=CLOUDS[key])  # fmt: skip
        for key in DATES:
            catalog.wait_for_image(pid, key, timeout=60, poll=0.1)
    with Metadata(url=server.url, token=token) as metadata:
        yield {"metadata": metadata, "pid": pid, "token": token}


def keys(fc: dict[str, Any]) -> list[str]:
    return [f["properties"]["key"] for f in fc["features"]]


def test_search_returns_a_feature_collection(seeded: dict[str, Any]) -> None:
    fc = seeded["metadata"].search(products=seeded["pid"], sort_field="acquired")
    assert fc["type"] == "FeatureCollection" and keys(fc) == ["a", "b", "c"]
    first = fc["features"][0]
    assert first["id"] == f"{seeded['pid']}:a" and first["properties"]["product"] == seeded["pid"]
    assert shapely.geometry.shape(first["geometry"]).geom_type == "Polygon"


def test_features_pages_with_the_continuation_header(seeded: dict[str, Any]) -> None:
    metadata = seeded["metadata"]
    features = list(
        metadata.features(products=[seeded["pid"]], batch_size=1, sort_field="acquired")
    )
    assert [f["id"].rsplit(":", 1)[1] for f in features] == ["a", "b", "c"]
    page = metadata.paged_search(products=[seeded["pid"]], limit=2, sort_field="acquired")
    assert keys(page) == ["a", "b"] and page["properties"]["continuation_token"]
    rest = metadata.paged_search(products=[seeded["pid"]], limit=2, sort_field="acquired",
                                 continuation_token=page["properties"]["continuation_token"])  # fmt: skip
    assert keys(rest) == ["c"]
    assert len(metadata.search(products=[seeded["pid"]], limit=2)["features"]) == 2


def test_search_filters(seeded: dict[str, Any]) -> None:
    metadata, pid = seeded["metadata"], seeded["pid"]
    by = lambda **kw: keys(metadata.search(products=pid, sort_field="acquired", **kw))  # noqa: E731
    assert by(sort_order="desc") == ["c", "b", "a"]
    assert by(start_datetime="2018-02-01", end_datetime=dt.datetime(2018, 3, 1)) == ["b"]
    assert by(cloud_fraction=0.5) == ["a", "b"]
    assert by(q=p.key == "b") == ["b"]
    assert by(q=[p.cloud_fraction > 0.2, p.key.like("%c")]) == ["c"]
    assert by(q={"eq": {"key": "a"}}) == ["a"]
    assert by(date="acquired", start_datetime="2019-01-01") == []
    west = shapely.geometry.box(73.4, 50.3, 73.478, 50.52)  # only image a (east edge ~73.4766)
    assert by(geom=west) == ["a"]
    assert by(geom=json.dumps(shapely.geometry.mapping(west))) == ["a"]
    assert by(geom=shapely.geometry.mapping(west)) == ["a"]


def test_fields_and_ids(seeded: dict[str, Any]) -> None:
    metadata, pid = seeded["metadata"], seeded["pid"]
    fc = metadata.search(products=pid, fields=["cloud_fraction"], sort_field="acquired")
    assert [set(f["properties"]) for f in fc["features"]] == [{"cloud_fraction"}] * 3
    assert sorted(metadata.ids(products=pid)) == [f"{pid}:{k}" for k in "abc"]


def test_summary_and_count(seeded: dict[str, Any]) -> None:
    metadata, pid = seeded["metadata"], seeded["pid"]
    assert metadata.count(products=pid) == 3
    summary = metadata.summary(products=[pid], interval="month", pixels=True)
    assert summary["count"] == 3 and summary["products"] == [pid]
    assert [item["count"] for item in summary["items"]] == [1, 1, 1]


def test_get_and_get_by_ids(seeded: dict[str, Any]) -> None:
    metadata, pid = seeded["metadata"], seeded["pid"]
    image = metadata.get(f"{pid}:b")
    assert {"geometry", "id", "key"} <= set(image) and image["raster_size"] == [16, 16]
    assert image["cloud_fraction"] == 0.5
    with pytest.raises(NotFound):
        metadata.get(f"{pid}:zzz")
    found = metadata.get_by_ids([f"{pid}:c", f"{pid}:zzz", f"{pid}:a"])
    assert [i["id"] for i in found] == [f"{pid}:c", f"{pid}:a"]
    with pytest.raises(NotFound):
        metadata.get_by_ids([f"{pid}:zzz"], ignore_not_found=False)


def test_products_and_bands(seeded: dict[str, Any], server: Any) -> None:
    from rastercat.client.auth import token_claims

    metadata, pid = seeded["metadata"], seeded["pid"]
    sub = token_claims(seeded["token"])["sub"]
    assert pid in [x["id"] for x in metadata.products(owner=sub)]
    assert pid in metadata.available_products()
    assert metadata.get_product(pid)["title"] == "Meta"
    assert [b["name"] for b in metadata.bands(products=pid)] == ["gray"]
    assert list(metadata.get_bands_by_id(f"{pid}:a")) == [f"{pid}:gray"]
    assert list(metadata.get_bands_by_product(pid)) == [f"{pid}:gray"]
    band = metadata.get_band(f"{pid}:gray")
    assert band["name"] == "gray" and band["dtype"] == "UInt16"
    with pytest.raises(NotFound):
        metadata.get_band(f"{pid}:nope")


def test_other_users_see_nothing(seeded: dict[str, Any], server: Any) -> None:
    with Metadata(url=server.url, token=server.token("metadata-mallory")) as other:
        assert other.search(products=seeded["pid"])["features"] == []
        with pytest.raises(NotFound):
            other.get(f"{seeded['pid']}:a")
        with pytest.raises(NotFound):
            other.get_product(seeded["pid"])

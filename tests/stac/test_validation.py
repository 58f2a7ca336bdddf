"""Items, collections and the landing page validate against the STAC JSON schemas (pystac's bundled
core schemas plus the vendored extension schemas, no network), and stac-api-validator passes
against the live server with its schema fetches answered from the same local map."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pystac
import pytest
from pystac.validation import validate_dict

from stac.conftest import STAC
from stac.local_schemas import pystac_validator, schema_map


def test_items_validate(uploaded: dict[str, Any], seeded: dict[str, Any]) -> None:
    validator = pystac_validator()
    pid = uploaded["pid"]
    item = (
        uploaded["client"]
        .get(f"{STAC}/collections/{pid}/items/{quote(uploaded['id'], safe='')}")
        .json()
    )
    uris = validate_dict(item, validator=validator)
    assert any("projection/v1.2.0" in u for u in uris) and any("raster/v1.1.0" in u for u in uris)
    for feature in (
        seeded["client"]
        .get(f"{STAC}/search", params={"collections": seeded["pid"]})
        .json()["features"]
    ):
        validate_dict(feature, validator=validator)
        assert pystac.Item.from_dict(feature).to_dict(transform_hrefs=False)["id"] == feature["id"]


def test_collections_and_landing_page_validate(
    uploaded: dict[str, Any], seeded: dict[str, Any]
) -> None:
    validator = pystac_validator()
    for c in (uploaded["client"], seeded["client"]):
        for col in c.get(f"{STAC}/collections").json()["collections"]:
            validate_dict(col, validator=validator)
            assert pystac.Collection.from_dict(col).id == col["id"]
    landing = seeded["client"].get(f"{STAC}/").json()
    validate_dict(landing, validator=validator)


def test_a_broken_item_fails_validation(seeded: dict[str, Any]) -> None:
    """The local validation really validates: a wrong extension field is caught."""
    validator = pystac_validator()
    (feature,) = (
        seeded["client"]
        .get(f"{STAC}/search", params={"ids": seeded["ids"]["a"]})
        .json()["features"]
    )
    feature["properties"]["proj:shape"] = "big"
    with pytest.raises(pystac.errors.STACValidationError):
        validate_dict(feature, validator=validator)


@pytest.fixture
def offline_schemas(monkeypatch: pytest.MonkeyPatch) -> None:
    """stac-validator fetches schemas by URL: answer from the local map, refuse anything else."""
    import requests
    import stac_validator.utilities as utilities

    local = schema_map()
    original = utilities.fetch_and_parse_file

    def fetch(input_path: str, headers: dict | None = None) -> dict:
        url = input_path.rstrip("#")
        if url in local:
            return json.loads(json.dumps(local[url]))
        if url.startswith(("http://127.0.0.1", "/")):
            return original(input_path, headers)
        raise requests.exceptions.ConnectionError(f"offline: no local schema for {input_path}")

    monkeypatch.setattr(utilities, "fetch_and_parse_file", fetch)
    utilities._fetch_and_parse_schema_cache_clear()
    # pystac's own validation (item hydration in stac-api-validator) from the same local schemas.
    from pystac.validation import RegisteredValidator

    monkeypatch.setattr(RegisteredValidator, "_validator", pystac_validator())


def test_stac_api_validator(
    uploaded: dict[str, Any], live_server: Any, offline_schemas: None
) -> None:
    from stac_api_validator.validations import QueryConfig, validate_api

    geometry = json.dumps(
        {"type": "Polygon", "coordinates": [[[70, 45], [80, 45], [80, 55], [70, 55], [70, 45]]]}
    )
    warnings, errors = validate_api(
        root_url=f"{live_server.url}{STAC}/",
        ccs_to_validate=["core", "collections", "features", "item-search", "filter", "item-search#sort",
                         "item-search#fields"],
        collection=uploaded["pid"], geometry=geometry, auth_bearer_token=uploaded["token"],
        auth_query_parameter=None, fields_nested_property="properties.proj:code", validate_pagination=True,
        query_config=QueryConfig(*([None] * 13)), transaction_collection=None,
        headers={"Authorization": f"Bearer {uploaded['token']}"},
    )  # fmt: skip
    assert not list(errors), "\n".join(str(e) for e in errors)

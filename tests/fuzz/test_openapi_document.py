"""What the OpenAPI document of the catalog and system routes declares (what the fuzz generates from,
and what /docs shows): error answers as the one error document, request bodies with their fields."""

from __future__ import annotations

from typing import Any

import pytest

from live import LiveServer
from rastercat.protocol.validation import REQUIRED_BAND_FIELDS

CAT = "/metadata/v1/catalog"


@pytest.fixture(scope="module")
def document(live_server: LiveServer) -> dict[str, Any]:
    with live_server.client(None) as c:
        r = c.get("/openapi.json")
    assert r.status_code == 200
    return dict(r.json())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, ops in document["paths"].items()
        if path.startswith(CAT + "/products")
        and "/upload" not in path
        or path in ("/health", "/whoami")
        for method, op in ops.items()
    ]


def _body_schema(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    op = document["paths"][path][method]
    return dict(op["requestBody"]["content"]["application/json"]["schema"])


def test_errors_are_the_error_document_and_no_phantom_422(document: dict[str, Any]) -> None:
    ops = _operations(document)
    assert len(ops) >= 18
    for method, path, op in ops:
        responses = op["responses"]
        assert "422" not in responses, (method, path)  # the app answers 400, never 422
        for status in ("400", "404", "4XX"):
            schema = responses[status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorDocument"}, (method, path)


def test_catalog_bodies_declare_their_fields(document: dict[str, Any]) -> None:
    product = _body_schema(document, "post", f"{CAT}/products")
    assert product["required"] == ["id", "title", "description"]
    assert product["additionalProperties"] is False  # unknown attributes are rejected by name
    band = _body_schema(document, "post", f"{CAT}/products/{{pid}}/bands")
    assert set(band["required"]) == {"name", *REQUIRED_BAND_FIELDS}
    assert "UInt16" in band["properties"]["dtype"]["enum"]
    replaced = _body_schema(document, "put", f"{CAT}/products/{{pid}}/bands/{{name}}")
    assert set(replaced["required"]) == set(REQUIRED_BAND_FIELDS)
    image = _body_schema(document, "post", f"{CAT}/products/{{pid}}/images")
    assert image["required"] == ["id"] and "pass" in image["properties"]


def test_answers_are_declared(document: dict[str, Any]) -> None:
    get = document["paths"][f"{CAT}/products/{{pid}}"]["get"]["responses"]["200"]
    assert get["content"]["application/json"]["schema"]["$ref"].endswith("/ProductDocument")
    delete = document["paths"][f"{CAT}/products/{{pid}}"]["delete"]["responses"]
    assert delete["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/DeletionStarted"
    )
    assert "204" in delete


def test_flags_are_booleans(live_server: LiveServer, document: dict[str, Any]) -> None:
    params = document["paths"][f"{CAT}/products/{{pid}}"]["delete"]["parameters"]
    cascade = next(p for p in params if p["name"] == "cascade")
    assert cascade["schema"]["type"] == "boolean"
    with live_server.client("alice") as c:
        r = c.delete(f"{CAT}/products/nothing-here", params={"cascade": "maybe"})
        assert r.status_code == 400
        assert r.json()["errors"][0]["source"] == {"pointer": "cascade"}
        # The published 0.17 client sends Python's str(bool).
        assert (
            c.delete(f"{CAT}/products/nothing-here", params={"cascade": "True"}).status_code == 404
        )

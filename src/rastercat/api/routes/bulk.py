"""``POST /products/{pid}/images/bulk``: many image records in one request, all or nothing.

The body is read here, under the route's own cap (``bulk.max_body_bytes``), rather than parsed
by FastAPI: a batch of 10,000 records is larger than ordinary JSON bodies, and a JSON-lines
stream (``application/x-ndjson``, one record per line) is accepted beside ``{"data": [...]}``.
The principal is checked before a byte of the body is read.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.catalog.bulk import BulkImages, record_error
from rastercat.errors import InvalidBatch, InvalidInput, PayloadTooLarge

router = APIRouter()

NDJSON = "application/x-ndjson"


class ImageRecord(BaseModel):
    """One image record: ``id`` plus any attribute of a single image (``acquired``, ``geometry``,
    ``cloud_fraction``, ``extra_properties``...); validated exactly like ``POST .../images``."""

    model_config = {"extra": "allow"}
    id: str = Field(description="the image id within the product (or the full id)")


class BulkImagesCreate(BaseModel):
    data: list[ImageRecord] = Field(description="up to RASTERCAT_BULK__MAX_RECORDS records")


class BulkImageRef(BaseModel):
    id: str
    type: str = "image"


class BulkImagesMeta(BaseModel):
    count: int


class BulkImagesPublic(BaseModel):
    data: list[BulkImageRef]
    meta: BulkImagesMeta


async def read_capped(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"the body has {declared} bytes; the bulk route accepts at most {limit} "
            "(RASTERCAT_BULK__MAX_BODY_BYTES): send smaller batches"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"the body passes {limit} bytes, the bulk route's cap "
                "(RASTERCAT_BULK__MAX_BODY_BYTES): send smaller batches"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def parse_records(body: bytes, content_type: str) -> list[Any]:
    """``{"data": [...]}`` (or a bare list) as JSON, or one record per line as JSON lines."""
    if content_type.split(";")[0].strip().lower() == NDJSON:
        records: list[Any] = []
        errors = []
        for index, line in enumerate(ln for ln in body.splitlines() if ln.strip()):
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                errors.append(record_error(InvalidInput, index, None, None, f"not JSON: {exc}"))
        if errors:
            raise InvalidBatch(f"{len(errors)} line(s) are not JSON; nothing was added", errors)
        return records
    try:
        doc = json.loads(body)
    except ValueError as exc:
        raise InvalidInput(f"the body is not JSON: {exc}") from None
    if isinstance(doc, dict) and isinstance(doc.get("data"), list):
        return list(doc["data"])
    if isinstance(doc, list):
        return doc
    raise InvalidInput('the body must be {"data": [records...]}', field="data")


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` inlined (an ``openapi_extra`` schema cannot
    point into ``$defs``, which would resolve against the OpenAPI document's root)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return dict(walk(schema))


@router.post(
    "/products/{pid}/images/bulk",
    status_code=201,
    response_model=BulkImagesPublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": inline_schema(BulkImagesCreate)},
                NDJSON: {"schema": {"type": "string", "description": "one record per line"}},
            },
        }
    },
)
async def add_images(request: Request, state: StateDep, p: PrincipalDep, pid: str) -> dict:
    """Add up to ``RASTERCAT_BULK__MAX_RECORDS`` image records to a product in one transaction:
    if any record is refused, nothing is added and the 400 (409 for ids that exist) names every
    refused record (``errors[].meta``: index, id, field)."""
    body = await read_capped(request, state.settings.bulk.max_body_bytes)
    records = parse_records(body, request.headers.get("content-type", "application/json"))
    ids = await run_in_threadpool(BulkImages(state.catalog).add, p, pid, records)
    return {"data": [{"id": i, "type": "image"} for i in ids], "meta": {"count": len(ids)}}

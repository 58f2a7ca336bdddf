"""Resumable upload routes (protocol: :mod:`rastercat.catalog.multipart`).

Step 1 is an authenticated catalog call; the session's own routes sit under ``/uploads/`` and are
authorized by the session URL, like the 0.17 upload URL, so part bodies skip the JSON body cap.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response
from starlette.requests import ClientDisconnect

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.api.routes.uploads import public_base
from rastercat.catalog.multipart import CHECKSUM_HEADER, MultipartService
from rastercat.errors import InvalidInput, PayloadTooLarge
from rastercat.protocol.bodies import json_object

log = logging.getLogger("rastercat.uploads")
catalog_router = APIRouter()
session_router = APIRouter()


def _service(state: Any) -> MultipartService:
    service: MultipartService = state.multipart
    return service


@catalog_router.post("/products/{pid}/images/multipart/{key}", status_code=201)
def create_session(request: Request, state: StateDep, p: PrincipalDep, pid: str, key: str,
                   body: Any = Body(default_factory=dict)) -> dict:  # fmt: skip
    """Start a resumable upload: step 1's body plus ``multipart: {size, part_size}``."""
    base = public_base(request, state.settings.public_url)
    return _service(state).create(p, pid, key, json_object(body), base)


@session_router.get("/uploads/multipart/{token}")
def session_status(request: Request, token: str) -> dict:
    """The parts the server holds; each call also keeps the upload alive."""
    return _service(request.app.state.rc).status(token)


JSON_LIMIT = 2**20
"""Largest JSON body of a session route (1,000 part checksums take about 80 KB). Routes under
``/uploads/`` are exempt from the app's body cap, so these read their small bodies themselves,
after the session URL was checked, instead of letting FastAPI parse whatever arrives."""


async def small_json(request: Request, token: str) -> Any:
    import json

    import anyio

    from rastercat.catalog.tokens import verify_upload_token

    verify_upload_token(request.app.state.rc.secret, token)  # 403 before any body is read
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > JSON_LIMIT):
        raise PayloadTooLarge(f"the request body is larger than {JSON_LIMIT} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > JSON_LIMIT:
            raise PayloadTooLarge(f"the request body is larger than {JSON_LIMIT} bytes")
    if not body:
        return {}
    try:
        return await anyio.to_thread.run_sync(json.loads, bytes(body))
    except ValueError:
        raise InvalidInput("the request body is not JSON") from None


@session_router.post("/uploads/multipart/{token}/urls")
async def part_urls(request: Request, token: str) -> dict:
    import anyio

    state = request.app.state.rc
    body = await small_json(request, token)
    base = public_base(request, state.settings.public_url)
    result: dict = await anyio.to_thread.run_sync(_service(state).part_urls, token, body, base)
    return result


@session_router.put("/uploads/multipart/{token}/parts/{number}", response_model=None)
async def put_part(request: Request, token: str, number: int) -> dict | Response:
    length = request.headers.get("content-length")
    try:
        content_length = int(length) if length is not None else None
    except ValueError:
        raise InvalidInput("Content-Length is not a number", field="Content-Length") from None
    service = _service(request.app.state.rc)
    try:
        return await service.receive_part(
            token, number, request.headers.get(CHECKSUM_HEADER), content_length, request.stream()
        )
    except ClientDisconnect:
        log.info("a part of a resumable upload was cut off; the client may send it again")
        return Response(status_code=400)


@session_router.post("/uploads/multipart/{token}/complete")
async def complete(request: Request, token: str) -> dict:
    import anyio

    body = await small_json(request, token)
    service = _service(request.app.state.rc)
    result: dict = await anyio.to_thread.run_sync(service.complete, token, body)
    return result


@session_router.delete("/uploads/multipart/{token}", status_code=204)
def abort(request: Request, token: str) -> Response:
    _service(request.app.state.rc).abort(token)
    return Response(status_code=204)

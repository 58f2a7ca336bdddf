"""Upload routes: step 1 (signed URL), step 2 (the PUT), and upload results."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import PlainTextResponse

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.catalog.uploads import UploadService
from rastercat.errors import InvalidInput

catalog_router = APIRouter()
put_router = APIRouter()


def _uploads(state: Any) -> UploadService:
    return state.extras["uploads"]


def public_base(request: Request, configured: str | None) -> str:
    if configured:
        return configured.rstrip("/")
    return str(request.base_url).rstrip("/")


@catalog_router.post("/products/{pid}/images/upload/{key}", response_class=PlainTextResponse)
def begin_upload(
    request: Request,
    state: StateDep,
    p: PrincipalDep,
    pid: str,
    key: str,
    body: Any = Body(default_factory=dict),
) -> PlainTextResponse:
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    url = _uploads(state).begin(p, pid, key, body, public_base(request, state.settings.public_url))
    # Exactly the URL: no quotes, no trailing newline (protocol §2.7).
    return PlainTextResponse(url)


@catalog_router.post("/products/{pid}/uploads")
def upload_results(
    state: StateDep, p: PrincipalDep, pid: str, body: Any = Body(default_factory=dict)
) -> dict:
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    return _uploads(state).results(p, pid, body)


@catalog_router.get("/products/{pid}/uploads/{upload_id}")
def upload_result(state: StateDep, p: PrincipalDep, pid: str, upload_id: str) -> dict:
    return _uploads(state).result(p, pid, upload_id)


@put_router.put("/uploads/{token}")
async def put_upload(request: Request, token: str) -> dict:
    import anyio

    state = request.app.state.rc
    service = _uploads(state)
    length = request.headers.get("content-length")
    try:
        content_length = int(length) if length is not None else None
    except ValueError:
        raise InvalidInput("Content-Length is not a number") from None
    row = await anyio.to_thread.run_sync(service.check_put, token, content_length)
    # The service announces the job (wakes or enqueues workers) once it is PENDING.
    stored = await service.receive(row, request.stream())
    return {
        "upload_id": stored["upload_id"],
        "status": stored["status"],
        "size": stored["file_size"],
    }

"""Upload routes: step 1 (signed URL), step 2 (the PUT), and upload results."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.requests import ClientDisconnect

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.catalog.uploads import UploadService
from rastercat.errors import InvalidInput
from rastercat.protocol.bodies import json_object

log = logging.getLogger("rastercat.uploads")
catalog_router = APIRouter()
put_router = APIRouter()


def _uploads(state: Any) -> UploadService:
    return state.uploads


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
    body = json_object(body)
    url = _uploads(state).begin(p, pid, key, body, public_base(request, state.settings.public_url))
    # Exactly the URL: no quotes, no trailing newline (protocol §2.7).
    return PlainTextResponse(url)


@catalog_router.post("/products/{pid}/uploads")
def upload_results(
    state: StateDep, p: PrincipalDep, pid: str, body: Any = Body(default_factory=dict)
) -> dict:
    body = json_object(body)
    return _uploads(state).results(p, pid, body)


MAX_WAIT = 60.0
"""Longest a request may wait for its upload to finish (``?wait=``), in seconds."""
RECHECK = 0.5
"""How often a waiting request re-reads its job when no worker of this process signals (a Celery
worker in another process finishes it)."""
DONE = ("SUCCESS", "FAILURE")


def wait_seconds(value: str | None) -> float:
    if value is None:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_WAIT:  # also rejects nan
        raise InvalidInput(
            f"'wait' must be a number of seconds from 0 to {MAX_WAIT:g}, got {value!r}",
            field="wait",
        )
    return seconds


@catalog_router.get("/products/{pid}/uploads/{upload_id}")
async def upload_result(
    state: StateDep,
    p: PrincipalDep,
    pid: str,
    upload_id: str,
    wait: str | None = Query(
        default=None,
        description="Seconds (0 to 60) to hold the request until the upload has succeeded or "
        "failed; the answer is the upload's result as it then is.",
    ),
) -> dict:
    """One upload's result. Beyond the protocol: ``?wait=S`` holds the request until the upload
    has succeeded or failed, or S seconds have passed (long polling: no client-side loop)."""
    import anyio

    seconds = wait_seconds(wait)
    deadline = anyio.current_time() + seconds
    service = _uploads(state)
    while True:
        doc = await anyio.to_thread.run_sync(service.result, p, pid, upload_id)
        remaining = deadline - anyio.current_time()
        if doc["data"]["attributes"]["status"] in DONE or remaining <= 0 or state.job_events.closed:
            return doc
        await state.job_events.wait(min(remaining, RECHECK))


@put_router.put("/uploads/{token}", response_model=None)
async def put_upload(request: Request, token: str) -> dict | Response:
    import anyio

    state = request.app.state.rc
    service = _uploads(state)
    length = request.headers.get("content-length")
    try:
        content_length = int(length) if length is not None else None
    except ValueError:
        raise InvalidInput("Content-Length is not a number") from None
    claim = await anyio.to_thread.run_sync(service.check_put, token, content_length)
    # The service announces the job (wakes or enqueues workers) once it is PENDING.
    try:
        stored = await service.receive(claim, request.stream())
    except ClientDisconnect:
        # Nobody is left to answer; the service removed the partial file and gave the upload
        # back (the URL works again). Not an error of the server: no traceback.
        log.info("upload %s: the client went away during the PUT", claim.row["uid"])
        return Response(status_code=400)
    return {
        "upload_id": stored["upload_id"],
        "status": stored["status"],
        "size": stored["file_size"],
    }

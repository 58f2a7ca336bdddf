"""The exception tree's HTTP statuses as a table, the error document, and the handlers that use them."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from rastercat.errors import HTTP_ERRORS, BatchError, RastercatError

log = logging.getLogger("rastercat.api")

#: The status of each class the server answers with: the statuses the exception tree carries
#: (:data:`rastercat.errors.HTTP_ERRORS`, the one table the SDK maps answers back with).
STATUS_CODES: dict[type[RastercatError], int] = {cls: cls.status for cls in HTTP_ERRORS}


def status_for(exc: RastercatError) -> int:
    return exc.status


class ErrorSource(BaseModel):
    pointer: str


class ErrorObject(BaseModel):
    status: str
    title: str
    detail: str
    source: ErrorSource | None = None


class ErrorDocument(BaseModel):
    """The body of every error answer (what :func:`error_body` builds)."""

    errors: list[ErrorObject]


def error_responses() -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for error answers, from the table: each status with the errors that
    map to it. ``4XX`` also covers what the framework answers itself (405, and 400 for a request that
    does not parse) and keeps FastAPI from declaring a 422 that is never sent."""
    names: dict[int, list[str]] = {}
    for cls, status in STATUS_CODES.items():
        names.setdefault(status, []).append(cls.__name__)
    out: dict[int | str, dict[str, Any]] = {
        status: {"model": ErrorDocument, "description": ", ".join(found)}
        for status, found in sorted(names.items())
    }
    out["4XX"] = {"model": ErrorDocument, "description": "Any other client error"}
    return out


def error_body(status: int, title: str, detail: str, pointer: str | None = None) -> dict:
    err: dict = {"status": str(status), "title": title, "detail": detail}
    if pointer:
        err["source"] = {"pointer": pointer}
    return {"errors": [err]}


def batch_error_body(status: int, exc: BatchError) -> dict:
    """One entry per refused record (each with its pointer and ``meta``: index, id, field)."""
    entries = []
    for err in exc.errors:
        entry = error_body(status, type(err).__name__, err.message, err.field)["errors"][0]
        if err.details:
            entry["meta"] = err.details
        entries.append(entry)
    return {"errors": entries or error_body(status, type(exc).__name__, exc.message)["errors"]}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RastercatError)
    async def _domain(_: Request, exc: RastercatError) -> JSONResponse:
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, BatchError):
            return JSONResponse(batch_error_body(status, exc), status)
        return JSONResponse(
            error_body(status, type(exc).__name__, exc.message, exc.field), status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        pointer = None
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"] if p not in ("body", "query", "path"))
            pointer = pointer or loc
            parts.append(f"'{loc}': {err['msg']}" if loc else err["msg"])
        return JSONResponse(error_body(400, "InvalidInput", "; ".join(parts), pointer), 400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(exc.status_code, "HTTPError", str(exc.detail)), exc.status_code
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body(500, "ServiceError", "internal server error"), 500)

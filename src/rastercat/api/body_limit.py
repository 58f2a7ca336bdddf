"""A cap on request bodies, enforced before anything reads them.

FastAPI reads and parses a JSON body before the route's dependencies run, the token check
included: measured, a 256 MB body with no token answered 401 after the server had grown by
621 MiB. This pure ASGI middleware sits in front of everything: a declared ``Content-Length``
above the cap is answered 413 at once (not a byte of the body is read), and a body without one
(chunked) is counted as it streams and cut off at the cap. Upload routes, which stream to storage
and enforce their own limit (``max_upload_bytes``), are exempt.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rastercat.api.errors import error_body, status_for
from rastercat.errors import InvalidInput, PayloadTooLarge, RastercatError

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Message], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

EXEMPT_PREFIXES = ("/uploads/",)
"""Paths whose bodies stream to storage under their own limit (``PUT /uploads/{token}``, and any
later resumable or multipart upload routes under ``/uploads/``)."""


class _TooLarge(Exception):
    pass


EXEMPT_SUFFIXES = ("/images/bulk",)
"""Routes that read their body themselves under a cap of their own, after the token check
(``POST .../products/{pid}/images/bulk``: ``bulk.max_body_bytes``)."""


def is_exempt(path: str) -> bool:
    return path.startswith(EXEMPT_PREFIXES) or path.endswith(EXEMPT_SUFFIXES)


class BodyLimitMiddleware:
    """413 for any request body above ``max_bytes`` (uploads excepted), before it is read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_exempt(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if isinstance(declared, RastercatError):
            await _reject(send, declared)
            return
        if declared is not None and declared > self.max_bytes:
            await _reject(send, self._error(f"declares {declared} bytes"))
            return
        await self._counted(scope, receive, send)

    def _error(self, what: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the request body {what}; the limit is {self.max_bytes} bytes "
            "(RASTERCAT_LIMITS__MAX_REQUEST_BODY_BYTES); send files through an upload URL",
            limit=self.max_bytes,
        )

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the app, counting the body as it arrives; past the cap, the app's own answer
        (FastAPI turns a failed body read into a 400) is replaced by the 413."""
        seen = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return  # the 413 is sent below instead
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            pass
        if over and not started:
            await _reject(send, self._error(f"is over {self.max_bytes} bytes"))


def _content_length(scope: Scope) -> int | None | InvalidInput:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                n = int(value)
            except ValueError:
                n = -1
            if n < 0:
                return InvalidInput("the Content-Length header is not a byte count")
            return n
    return None


async def _reject(send: Send, exc: RastercatError) -> None:
    status = status_for(exc)
    body = error_body(status, type(exc).__name__, exc.message)
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                # The rest of the body is not read: the connection cannot carry another request.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})

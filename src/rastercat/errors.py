"""The one exception tree of rastercat, shared by the server and the SDK.

::

    RastercatError
     +-- InvalidInput (ValueError)        bad request: a field is missing, malformed or out of range
     |    +-- InvalidBatch (BatchError)   records of a batch refused, each named in ``errors``
     +-- Unauthenticated                  no token, bad signature, expired token, unknown user
     +-- Forbidden                        the caller may see the object but not change it
     +-- NotFound (LookupError)           unknown, or not visible to the caller (no existence leak)
     +-- Conflict                         an id that already exists; an object that is still in use
     |    +-- ConflictingBatch (BatchError)  ids of a batch that already exist, each named
     +-- PayloadTooLarge                  an upload or a requested output above a configured cap
     +-- RateLimited
     +-- ServiceError                     the server failed (5xx seen by the SDK)
     +-- IngestError                      an upload could not be processed (recorded on the job)
     +-- StoreError                       the database or object store failed

Each class carries its HTTP status (``status``); the server answers with it and names the class
in the error document's ``title``. :data:`HTTP_ERRORS` is the one table: the server's
``rastercat.api.errors.STATUS_CODES`` is built from it, and the SDK maps an answer back with
:func:`error_class` (the title when it names a class of that status, else the status alone).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar


class RastercatError(Exception):
    """Root of every error rastercat raises on purpose."""

    status: ClassVar[int] = 500
    """The HTTP status the server answers with (500 for a class of no status of its own)."""

    def __init__(self, message: str, *, field: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"title": type(self).__name__, "detail": self.message}
        if self.field is not None:
            out["source"] = {"pointer": self.field}
        if self.details:
            out["meta"] = self.details
        return out


class InvalidInput(RastercatError, ValueError):
    """A request field is missing, malformed or out of range."""

    status = 400


class Unauthenticated(RastercatError):
    """No token, an invalid or expired token, or an unknown user."""

    status = 401


class Forbidden(RastercatError):
    """The caller may read the object but not perform this action on it."""

    status = 403


class NotFound(RastercatError, LookupError):
    """The object does not exist or the caller may not see it."""

    status = 404


class Conflict(RastercatError):
    """The object already exists, or is still in use."""

    status = 409


class PayloadTooLarge(RastercatError):
    """An upload or a requested output is above a configured limit."""

    status = 413


class BatchError(RastercatError):
    """A batch refused as a whole: ``errors`` holds one error per refused record (its field
    pointer and ``index``/``id`` details name the record); nothing of the batch was stored."""

    def __init__(self, message: str, errors: Sequence[RastercatError] = (), **details: Any) -> None:
        super().__init__(message, **details)
        self.errors = list(errors)


class InvalidBatch(BatchError, InvalidInput):
    """Records of a batch are invalid."""


class ConflictingBatch(BatchError, Conflict):
    """Records of a batch name ids that already exist."""


class RateLimited(RastercatError):
    """Too many requests."""

    status = 429


class ServiceError(RastercatError):
    """The server failed while handling a request."""

    status = 500


class IngestError(RastercatError):
    """An uploaded file could not be turned into an image; the message is meant for the user."""

    status = 400

    def __init__(self, message: str, *, failure_type: str = "exception", **details: Any) -> None:
        super().__init__(message, **details)
        self.failure_type = failure_type


class StoreError(RastercatError):
    """The database or object store failed."""

    status = 503


HTTP_ERRORS: tuple[type[RastercatError], ...] = (
    InvalidInput, Unauthenticated, Forbidden, NotFound, Conflict, PayloadTooLarge, RateLimited,
    IngestError, StoreError, ServiceError,
)  # fmt: skip
"""The classes the server answers with, by their ``status``; the first of a status is what an
answer of that status that names no class of it becomes in the SDK (4xx only: others are
ServiceError)."""

_BY_NAME: dict[str, type[RastercatError]] = {
    cls.__name__: cls for cls in (*HTTP_ERRORS, InvalidBatch, ConflictingBatch)
}
_BY_STATUS: dict[int, type[RastercatError]] = {
    cls.status: cls for cls in reversed(HTTP_ERRORS) if 400 <= cls.status < 500
}  # reversed: the first class of a status wins


def error_class(status: int, title: str | None = None) -> type[RastercatError]:
    """The class of an error answer: the one its ``title`` names when that class has this
    status, else the first of :data:`HTTP_ERRORS` with the status (4xx), else ServiceError."""
    named = _BY_NAME.get(title or "")
    if named is not None and named.status == status:
        return named
    return _BY_STATUS.get(status, ServiceError)


# Aliases with the names the descarteslabs client used, for scripts that catch them.
BadRequestError = InvalidInput
NotFoundError = NotFound
ConflictError = Conflict
ServerError = ServiceError

__all__ = [
    "BadRequestError",
    "BatchError",
    "Conflict",
    "ConflictError",
    "ConflictingBatch",
    "Forbidden",
    "HTTP_ERRORS",
    "IngestError",
    "InvalidBatch",
    "InvalidInput",
    "NotFound",
    "NotFoundError",
    "PayloadTooLarge",
    "RastercatError",
    "RateLimited",
    "ServerError",
    "ServiceError",
    "StoreError",
    "Unauthenticated",
    "error_class",
]

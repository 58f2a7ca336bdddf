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

HTTP status codes are assigned to these classes in exactly one table:
``rastercat.api.errors.STATUS_CODES``. The SDK maps status codes back to the same classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class RastercatError(Exception):
    """Root of every error rastercat raises on purpose."""

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


class Unauthenticated(RastercatError):
    """No token, an invalid or expired token, or an unknown user."""


class Forbidden(RastercatError):
    """The caller may read the object but not perform this action on it."""


class NotFound(RastercatError, LookupError):
    """The object does not exist or the caller may not see it."""


class Conflict(RastercatError):
    """The object already exists, or is still in use."""


class PayloadTooLarge(RastercatError):
    """An upload or a requested output is above a configured limit."""


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


class ServiceError(RastercatError):
    """The server failed while handling a request."""


class IngestError(RastercatError):
    """An uploaded file could not be turned into an image; the message is meant for the user."""

    def __init__(self, message: str, *, failure_type: str = "exception", **details: Any) -> None:
        super().__init__(message, **details)
        self.failure_type = failure_type


class StoreError(RastercatError):
    """The database or object store failed."""


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
]

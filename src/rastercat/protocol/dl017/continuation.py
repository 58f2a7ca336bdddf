"""Continuation tokens of the catalog protocol, and the caps on counts a client sends.

Two token formats are on the wire, both base64 JSON: a metadata search's (``{"q": query hash,
"o": offset}`` or ``{"q": ..., "k": [acquired, pk]}``, :func:`encode` / :func:`decode`) and an
upload listing's (``{"o": offset}``, :func:`encode_offset` / :func:`decode_offset`). The STAC API's
page tokens are another protocol's (:mod:`rastercat.protocol.stac.paging`).

A token is base64 JSON the client hands back unchanged, so it is as hostile as any other input:
every number in it is checked against a range before it reaches arithmetic or SQL (SQLite raises
``OverflowError`` on an integer beyond 64 bits; ``int(Infinity)`` raises too).
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any

from rastercat.errors import InvalidInput

MAX_OFFSET = 1_000_000_000
"""Largest ``offset`` a search or listing accepts (and a continuation token may carry)."""
MAX_LIST = 10_000
"""Most items in a list a client sends (``ids``, ``products``, ``sat_ids``)."""
_MAX_PK = 2**63 - 1
_MAX_TIME = 1e15
"""Seconds: far beyond year 9999 (2.5e11), far below float trouble."""

Position = tuple[float | None, int]
"""Where a page sorted by acquisition date ended: the last row's (acquired, pk)."""


def count(value: Any, field: str, *, default: int = 0, maximum: int = MAX_OFFSET) -> int:
    """A client's count (``offset``, ``limit``...): an integer from 0 to ``maximum``."""
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= maximum:
        raise InvalidInput(f"'{field}' must be an integer from 0 to {maximum}", field=field)
    return value


def bounded_list(values: list[Any], field: str) -> list[Any]:
    if len(values) > MAX_LIST:
        raise InvalidInput(f"'{field}' has more than {MAX_LIST} items", field=field)
    return values


def encode(query_hash: str, offset: int | None = None, after: Position | None = None) -> str:
    data: dict[str, Any] = {"q": query_hash}
    if after is not None:
        data["k"] = list(after)
    else:
        data["o"] = offset
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


def decode(token: Any, query_hash: str) -> tuple[int, Position | None]:
    """(offset, position) of a continuation token: keyset tokens (``k``) name the last row of the
    previous page, so the next page starts there without re-reading what came before."""
    invalid = InvalidInput("'continuation_token' is not valid", field="continuation_token")
    if not isinstance(token, str):
        raise invalid
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError:
        raise invalid from None
    if not isinstance(data, dict):
        raise invalid
    if data.get("q") != query_hash:
        raise InvalidInput(
            "'continuation_token' belongs to another query", field="continuation_token"
        )
    if "k" in data:
        key = data["k"]
        if not isinstance(key, list) or len(key) != 2:
            raise invalid
        acquired, pk = key
        if acquired is not None and not (
            isinstance(acquired, int | float)
            and not isinstance(acquired, bool)
            and math.isfinite(acquired)
            and abs(acquired) <= _MAX_TIME
        ):
            raise invalid
        if not isinstance(pk, int) or isinstance(pk, bool) or not 0 <= pk <= _MAX_PK:
            raise invalid
        return 0, (None if acquired is None else float(acquired), pk)
    offset = data.get("o")
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise invalid
    return offset, None


def encode_offset(offset: int) -> str:
    """An upload listing's token: where the next page starts."""
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode()


def decode_offset(token: str) -> int:
    """The offset an upload listing's token names (as lenient as the listing always was: any
    JSON ``o`` that ``int()`` takes and that is not negative)."""
    try:
        offset = int(json.loads(base64.urlsafe_b64decode(token.encode()))["o"])
        if offset < 0:
            raise ValueError("negative offset")
    except (ValueError, KeyError, TypeError, AttributeError):
        raise InvalidInput(
            "'continuation_token' is not valid", field="continuation_token"
        ) from None
    return offset

"""The STAC API's page tokens (``next``): unpadded base64 of compact JSON, bound to one search.

A token holds the search's fingerprint (``q``) and where the next page starts: the last row's
``k`` (date, pk) or ``i`` (id), or an ``o`` offset. The catalog protocol's continuation tokens are
another format (:mod:`rastercat.protocol.dl017.continuation`).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from rastercat.errors import InvalidInput


def encode_token(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, fingerprint: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(data, dict):
            raise TypeError
    except (ValueError, TypeError):
        raise InvalidInput("'next' is not a page token of this API", field="next") from None
    if data.get("q") != fingerprint:
        raise InvalidInput("'next' belongs to another search", field="next")
    return data

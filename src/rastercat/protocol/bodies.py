"""What every wire format asks of a JSON request body."""

from __future__ import annotations

from typing import Any

from rastercat.errors import InvalidInput


def json_object(body: Any) -> dict[str, Any]:
    """A request body that must be a JSON object (every route with a JSON body, both protocols)."""
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    return body

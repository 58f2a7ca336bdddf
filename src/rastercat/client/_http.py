"""The HTTP session shared by the SDK's service clients, and the status -> exception table."""

from __future__ import annotations

from typing import Any, Self

import httpx

from rastercat import __version__
from rastercat.client.auth import Credentials, resolve_credentials
from rastercat.errors import error_class

CATALOG_PATH = "/metadata/v1/catalog"
METADATA_PATH = "/metadata/v1"
RASTER_PATH = "/raster/v1"


def error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
        errors = body.get("errors") if isinstance(body, dict) else None
        if errors:
            return "; ".join(str(e.get("detail") or e.get("title")) for e in errors)
    except ValueError:
        pass
    text = response.text.strip()
    return text or f"HTTP {response.status_code}"


def error_title(response: httpx.Response) -> str | None:
    """The ``title`` of an error document's first error: the name of its class on the server."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors else None
    title = first.get("title") if isinstance(first, dict) else None
    return title if isinstance(title, str) else None


def raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    # The server's classes (rastercat.errors), by the error's title and the status.
    cls = error_class(response.status_code, error_title(response))
    message = error_message(response)
    raise cls(
        f"{response.status_code} {response.request.method} {response.request.url.path}: {message}"
    )


class Service:
    """Base of the SDK clients: one ``httpx.Client`` with the raw-token ``Authorization`` header."""

    path = ""
    timeout = 120.0

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        credentials: Credentials | None = None,
        timeout: float | None = None,
    ) -> None:
        self.credentials = credentials or resolve_credentials(url, token)
        self.base_url = self.credentials.url + self.path
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": self.credentials.token,
                "User-Agent": f"rastercat-python/{__version__}",
            },
            timeout=timeout or self.timeout,
        )

    @property
    def namespace(self) -> str:
        return self.credentials.namespace

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._client.request(method, path, **kwargs)
        raise_for_status(response)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

"""Links of STAC documents, all absolute and under one base URL (``.../stac/v1``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

GEOJSON = "application/geo+json"
PAGE = "next"
"""The parameter (GET) or body key (POST) of a page token. Not ``token``: that name is the
caller's access token on tile URLs (``?token=``), which STAC routes refuse."""
JSON = "application/json"


_PLAIN = re.compile(r"[A-Za-z0-9_.~:-]*")
"""The characters of ids that URL quoting leaves as they are, but ``:``, which ``quote_plus``
escapes: an id of these alone skips urllib's per-character walk (a tenth of a 100-Item page)."""


@lru_cache(maxsize=4096)
def _quoted(pid: str) -> str:
    # Every Item of a page links its collection three times: quote each product id once.
    return quote(pid, safe=":")


def _quoted_id(iid: str) -> str:
    """``quote(iid, safe=":")``: an id of plain characters (nearly all) is its own quoting."""
    return iid if _PLAIN.fullmatch(iid) else quote(iid, safe=":")


def quote_plus_id(value: str) -> str:
    """``quote_plus(value)``, for an id in a query string."""
    if _PLAIN.fullmatch(value):
        return value.replace(":", "%3A")
    return quote_plus(value)


@dataclass(frozen=True)
class Links:
    base: str
    """The API's root URL, without a trailing slash (e.g. ``http://host/stac/v1``)."""

    def root(self) -> str:
        return f"{self.base}/"

    def url(self, path: str, query: dict[str, Any] | None = None) -> str:
        if not query:
            return f"{self.base}{path}"
        q = {k: v for k, v in query.items() if v is not None}
        return f"{self.base}{path}" + (f"?{urlencode(q, doseq=True)}" if q else "")

    def collection(self, pid: str) -> str:
        # ':' stays as it is (ids are "namespace:name"): clients compare self links with the
        # URL they asked for.
        return f"{self.base}/collections/{_quoted(pid)}"

    def item(self, pid: str, iid: str) -> str:
        return f"{self.collection(pid)}/items/{_quoted_id(iid)}"

    @staticmethod
    def link(rel: str, href: str, type_: str | None = None, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"rel": rel, "href": href}
        if type_:
            out["type"] = type_
        out.update(extra)
        return out


def next_link_get(links: Links, path: str, query: dict[str, Any], token: str) -> dict[str, Any]:
    """A ``next`` link that repeats the GET query with the page token."""
    return Links.link("next", links.url(path, {**query, PAGE: token}), GEOJSON, method="GET")


def next_link_post(links: Links, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    """A ``next`` link for a POST search: the same body plus the token, merged by the client
    (STAC API item-search: ``method``, ``body``, ``merge``)."""
    return Links.link(
        "next", links.url(path), GEOJSON, method="POST", body={**body, PAGE: token}, merge=False
    )

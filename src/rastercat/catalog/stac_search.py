"""Item search of the STAC API, run by the Metadata search machinery.

The STAC query becomes a Metadata search body (products, dates, area, sort), so candidates come
from the same SQL (the R*Tree on SQLite, the GiST index on PostGIS) and pass the same exact checks
(footprint, permissions). What STAC adds is more conditions on top: ``ids``, a CQL2 filter compiled
by the store (:mod:`rastercat.store.sql.cql2`), and keyset positions for paging by date or by id.

Pages continue from a token naming the last row returned (its date and pk, or its id), so an image
added or deleted between two pages never makes another one be skipped or repeated. Sorting by any
other property pages by offset (the sort key of a JSON property has no stable keyset form here).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC
from typing import Any

from shapely.geometry import mapping

from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.principal import Principal
from rastercat.errors import InvalidInput
from rastercat.protocol.stac.paging import decode_token, encode_token
from rastercat.protocol.stac.query import DATE_SORT, ItemQuery, SortKey


class StacSearch:
    """Items matching an :class:`ItemQuery`, one page at a time."""

    def __init__(self, metadata: MetadataService) -> None:
        self.metadata = metadata

    def _body(self, q: ItemQuery) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if q.collections is not None:
            # No readable collection named: nothing matches (an empty list would mean "all").
            body["products"] = list(q.collections) or ["\x00none"]
        if q.start is not None:
            body["start_datetime"] = q.start.astimezone(UTC).isoformat()
        if q.end is not None:
            body["end_datetime"] = q.end.astimezone(UTC).isoformat()
        if q.geom is not None:
            body["geom"] = dict(mapping(q.geom))
        sort = q.sort or SortKey(DATE_SORT)
        body["sort_field"] = sort.field
        body["sort_order"] = "desc" if sort.desc else "asc"
        return body

    def search(self, p: Principal, q: ItemQuery) -> tuple[list[dict[str, Any]], str | None]:
        """A page of image rows (with ``product_uid`` etc.) and the token of the next page."""
        body = self._body(q)
        where, geom, post = self.metadata.candidates(p, body)
        if q.ids is not None:
            where = replace(where, ids=tuple(q.ids))
        if q.filter is not None:
            compiled = self.metadata.reads.compile_filter(q.filter)
            where = replace(where, compiled=(*where.compiled, compiled.clause))
            if compiled.refine is not None:
                post = {**post, "pred": _both(post["pred"], compiled.refine)}
        sort = q.sort or SortKey(DATE_SORT)
        fingerprint = q.fingerprint()
        state = decode_token(q.token, fingerprint) if q.token else {}
        after = None
        offset = 0
        if sort.field == DATE_SORT and "k" in state:
            after = _position(state["k"])
        elif sort.field == "id" and "i" in state:
            if not isinstance(state["i"], str):
                raise InvalidInput("'next' is not a page token of this API", field="next")
            if sort.desc:
                where = replace(where, id_before=state["i"])
            else:
                where = replace(where, id_after=state["i"])
        elif "o" in state:
            offset = state["o"]
            if not isinstance(offset, int) or offset < 0:
                raise InvalidInput("'next' is not a page token of this API", field="next")
        elif state:
            raise InvalidInput("'next' does not fit this sort order", field="next")
        page: list[dict[str, Any]] = []
        matches = self.metadata.iter_matches(
            p, body, wanted=offset + q.limit + 1, after=after, candidates=(where, geom, post)
        )
        for i, row in enumerate(matches):
            if i >= offset:
                page.append(row)
            if len(page) > q.limit:
                break
        if len(page) <= q.limit:
            return page, None
        page = page[: q.limit]
        last = page[-1]
        if sort.field == DATE_SORT:
            nxt: dict[str, Any] = {"k": [last["acquired"], last["pk"]]}
        elif sort.field == "id":
            nxt = {"i": last["id"]}
        else:
            nxt = {"o": offset + q.limit}
        return page, encode_token({"q": fingerprint, **nxt})


def _position(value: Any) -> tuple[float | None, int]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not (value[0] is None or isinstance(value[0], int | float))
        or not isinstance(value[1], int)
    ):
        raise InvalidInput("'next' is not a page token of this API", field="next")
    return value[0], value[1]


def _both(first: Any, second: Any) -> Any:
    if first is None:
        return second
    return lambda attrs: first(attrs) and second(attrs)

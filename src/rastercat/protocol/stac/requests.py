"""STAC item-search requests (GET query strings and POST bodies) parsed into an ``ItemQuery``.

Every bad value is an :class:`~rastercat.errors.InvalidInput` naming the parameter, so the API's
one error table turns it into a 400 with a JSON body.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rastercat.errors import InvalidInput
from rastercat.protocol.bodies import json_object
from rastercat.protocol.stac.links import PAGE
from rastercat.protocol.stac.query import DATE_SORT, ItemQuery, SortKey

CRS84 = (
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "http://www.opengis.net/def/crs/EPSG/0/4326",
    "EPSG:4326",
)
MAX_IDS = 10_000
"""Items one search may name by id (each is a bind parameter of one SQL statement)."""
FIELD_ALIASES = {
    "datetime": DATE_SORT, "properties.datetime": DATE_SORT, "id": "id",
    "collection": "product_id",
}  # fmt: skip


DEFAULT_FIELDS = ("type", "stac_version", "stac_extensions", "id", "collection", "geometry",
                  "bbox", "links", "assets", "properties.datetime")  # fmt: skip
"""What an Item keeps when ``fields`` names an empty ``include``."""
ALWAYS = ("type", "stac_version", "id", "collection")


@dataclass(frozen=True)
class Fields:
    """The fields extension, as stac-api-validator checks it: with paths to ``include``, an Item
    keeps only those (and its type, version and id); with an empty ``include``, the default set;
    with no ``include`` at all, everything. ``exclude`` then drops paths, except one also included;
    an included path inside an excluded one is kept."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    base: str = "full"
    """``full``, ``default`` or ``minimal`` (see above)."""

    def apply(self, doc: dict[str, Any]) -> dict[str, Any]:
        if self.base == "full" and not self.exclude:
            return doc
        out: dict[str, Any]
        if self.base == "full":
            out = copy.deepcopy(doc)
        else:
            out = {}
            keep = DEFAULT_FIELDS if self.base == "default" else ALWAYS
            for path in (*keep, *self.include):
                _copy_path(doc, out, path.split("."))
        for path in self.exclude:
            if path not in self.include and path not in ("id", "type"):
                _drop_path(out, path.split("."))
        for path in self.include:  # re-add what an excluded parent took away
            _copy_path(doc, out, path.split("."))
        return out


def _copy_path(src: Any, dst: dict[str, Any], parts: list[str]) -> None:
    head, rest = parts[0], parts[1:]
    if not isinstance(src, dict) or head not in src:
        return
    if not rest:
        dst[head] = copy.deepcopy(src[head])  # excluding a part later must not touch ``src``
    elif isinstance(src[head], dict):
        _copy_path(src[head], dst.setdefault(head, {}), rest)


def _drop_path(doc: Any, parts: list[str]) -> None:
    for p in parts[:-1]:
        if not isinstance(doc, dict) or p not in doc:
            return
        doc = doc[p]
    if isinstance(doc, dict):
        doc.pop(parts[-1], None)


@dataclass(frozen=True)
class SearchRequest:
    query: ItemQuery
    fields: Fields = field(default_factory=Fields)


# single parameters -------------------------------------------------------------------------------
def parse_limit(value: Any, default: int, maximum: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise InvalidInput("'limit' must be an integer", field="limit") from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInput("'limit' must be an integer", field="limit")
    if value < 1:
        raise InvalidInput("'limit' must be at least 1", field="limit")
    return min(value, maximum)  # the spec: larger values are clamped, not refused


def _finite(values: list[Any], name: str) -> list[float]:
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InvalidInput(f"'{name}' must be numbers", field=name) from None
    if any(isinstance(v, bool) for v in values) or not all(math.isfinite(v) for v in out):
        raise InvalidInput(f"'{name}' must be finite numbers", field=name)
    return out


def parse_bbox(value: Any) -> Any:
    """A shapely geometry from 4 or 6 numbers (minx, miny[, minz], maxx, maxy[, maxz]); a box
    whose west edge is east of its east edge crosses the antimeridian."""
    from shapely.geometry import MultiPolygon, box

    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or len(value) not in (4, 6):
        raise InvalidInput("'bbox' must be 4 or 6 numbers", field="bbox")
    v = _finite(value, "bbox")
    minx, miny, maxx, maxy = (v[0], v[1], v[2], v[3]) if len(v) == 4 else (v[0], v[1], v[3], v[4])
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InvalidInput("'bbox' must be longitude/latitude with south <= north", field="bbox")
    if minx > maxx:
        return MultiPolygon([box(minx, miny, 180, maxy), box(-180, miny, maxx, maxy)])
    return box(minx, miny, maxx, maxy)


def parse_intersects(value: Any) -> Any:
    from rastercat.protocol.geometry import parse_geom

    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidInput(
                "'intersects' must be a GeoJSON geometry", field="intersects"
            ) from None
    if not isinstance(value, dict) or "coordinates" not in value and "geometries" not in value:
        raise InvalidInput("'intersects' must be a GeoJSON geometry", field="intersects")
    try:
        return parse_geom(value)
    except InvalidInput as exc:
        raise InvalidInput(
            exc.message.replace("'geom'", "'intersects'"), field="intersects"
        ) from None


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def _instant(text: str) -> datetime | None:
    from rastercat.protocol.validation import parse_datetime_value

    text = text.strip()
    if text in ("", ".."):
        return None
    if not RFC3339.match(text):
        raise InvalidInput(
            f"'datetime': {text!r} is not an RFC 3339 date-time (e.g. 2020-01-31T12:00:00Z)",
            field="datetime",
        )
    text = text.upper().replace(" ", "T")
    try:
        iso = parse_datetime_value(text)
    except ValueError:
        raise InvalidInput(
            f"'datetime': {text!r} is not an RFC 3339 date-time", field="datetime"
        ) from None
    return datetime.fromisoformat(iso) if iso else None


def parse_datetime_param(value: Any) -> tuple[datetime | None, datetime | None]:
    """An instant, or an interval ``start/end`` with ``..`` (or nothing) for an open end."""
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        raise InvalidInput("'datetime' must be a string", field="datetime")
    if "/" not in value:
        when = _instant(value)
        if when is None:
            raise InvalidInput("'datetime' must be an instant or an interval", field="datetime")
        return when, when
    parts = value.split("/")
    if len(parts) != 2:
        raise InvalidInput("'datetime' has more than one '/'", field="datetime")
    start, end = _instant(parts[0]), _instant(parts[1])
    if start is None and end is None:
        raise InvalidInput("'datetime': both ends of the interval are open", field="datetime")
    if start is not None and end is not None and start > end:
        raise InvalidInput("'datetime': the start is after the end", field="datetime")
    return start, end


def parse_strings(value: Any, name: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [v for v in (s.strip() for s in value.split(",")) if v]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"'{name}' must be a list of strings", field=name)
    return tuple(value)


def parse_sortby(value: Any) -> SortKey | None:
    """``+field``/``-field`` (GET) or ``[{"field", "direction"}]`` (POST); one field."""
    if value is None or value == "" or value == []:
        return None
    keys: list[tuple[str, bool]] = []
    if isinstance(value, str):
        for part in (s.strip() for s in value.split(",")):
            if part:
                keys.append((part.lstrip("+-"), part.startswith("-")))
    elif isinstance(value, list):
        for entry in value:
            if not isinstance(entry, Mapping) or not isinstance(entry.get("field"), str):
                raise InvalidInput("'sortby' entries are {field, direction}", field="sortby")
            direction = entry.get("direction", "asc")
            if direction not in ("asc", "desc"):
                raise InvalidInput("'sortby' direction must be asc or desc", field="sortby")
            keys.append((entry["field"], direction == "desc"))
    else:
        raise InvalidInput("'sortby' must be a string or a list", field="sortby")
    if len(keys) != 1:
        raise InvalidInput("'sortby' takes exactly one field", field="sortby")
    name, desc = keys[0]
    if not name or '"' in name or "\\" in name:
        raise InvalidInput(f"'sortby': {name!r} is not a field name", field="sortby")
    target = FIELD_ALIASES.get(name) or name.removeprefix("properties.")
    return SortKey(target, desc)


def parse_fields(value: Any, given: bool) -> Fields:
    if not given or value == "":
        return Fields()
    if isinstance(value, str):
        parts = [s.strip() for s in value.split(",") if s.strip()]
        inc = tuple(p.lstrip("+") for p in parts if not p.startswith("-"))
        exc = tuple(p[1:] for p in parts if p.startswith("-"))
        return Fields(inc, exc, "minimal" if inc else "full")
    if isinstance(value, Mapping):
        include = parse_strings(value.get("include") or [], "fields") or ()
        exclude = parse_strings(value.get("exclude") or [], "fields") or ()
        base = "full" if "include" not in value else "minimal" if include else "default"
        return Fields(include, exclude, base)
    raise InvalidInput("'fields' must be a string or {include, exclude}", field="fields")


def _between_pairs(node: Any) -> Any:
    """CQL2-JSON as some clients still send it: ``between`` with its bounds as one array."""
    if isinstance(node, list):
        return [_between_pairs(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _between_pairs(v) for k, v in node.items()}
    args = out.get("args")
    if out.get("op") == "between" and isinstance(args, list) and len(args) == 2:
        if isinstance(args[1], list) and len(args[1]) == 2:
            out["args"] = [args[0], *args[1]]
    return out


def parse_filter(value: Any, lang: Any, crs: Any) -> dict[str, Any] | None:
    """A CQL2 filter (text or JSON), parsed and checked by ``cql2``, as CQL2-JSON."""
    import cql2

    if value is None or value == "":
        return None
    if crs not in (None, "", *CRS84):
        raise InvalidInput("'filter-crs' must be CRS84 (lon/lat)", field="filter-crs")
    if lang in (None, ""):
        lang = "cql2-json" if isinstance(value, dict) else "cql2-text"
    if lang not in ("cql2-text", "cql2-json"):
        raise InvalidInput("'filter-lang' must be cql2-text or cql2-json", field="filter-lang")
    if lang == "cql2-text" and not isinstance(value, str):
        raise InvalidInput("a cql2-text 'filter' must be a string", field="filter")
    try:
        if lang == "cql2-json":
            data = json.loads(value) if isinstance(value, str) else value
            expr = cql2.parse_json(json.dumps(_between_pairs(data)))
        else:
            expr = cql2.parse_text(value)
        # No expr.validate(): it checks the JSON Schema at ~100 ms a call; what cql2 parses, the SQL
        # compiler checks operator by operator (a 400 naming ``filter`` for anything it cannot use).
        parsed = expr.to_json()
    except (cql2.ParseError, cql2.ValidationError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise InvalidInput(f"'filter' is not valid {lang}: {detail}", field="filter") from None
    if not isinstance(parsed, dict | bool):
        raise InvalidInput("'filter' must be a condition", field="filter")
    return parsed  # type: ignore[return-value]


# whole requests ----------------------------------------------------------------------------------
def _query(params: Mapping[str, Any], limit: int, *, collections: Any = None) -> ItemQuery:
    geom = parse_bbox(params.get("bbox"))
    shape = parse_intersects(params.get("intersects"))
    if geom is not None and shape is not None:
        raise InvalidInput("give 'bbox' or 'intersects', not both", field="intersects")
    start, end = parse_datetime_param(params.get("datetime"))
    cols = parse_strings(collections if collections is not None else params.get("collections"),
                         "collections")  # fmt: skip
    ids = parse_strings(params.get("ids"), "ids")
    if ids is not None and len(ids) > MAX_IDS:
        raise InvalidInput(f"'ids' names at most {MAX_IDS} items", field="ids")
    flt = parse_filter(params.get("filter"), params.get("filter-lang"), params.get("filter-crs"))
    sort = parse_sortby(params.get("sortby"))
    token = params.get(PAGE)
    if token is not None and not isinstance(token, str):
        raise InvalidInput(f"'{PAGE}' must be a page token", field=PAGE)
    identity = {
        "collections": cols, "ids": ids, "geom": (geom or shape).wkt if (geom or shape) else None,
        "start": start, "end": end, "filter": flt,
        "sort": [sort.field, sort.desc] if sort else None,
    }  # fmt: skip
    return ItemQuery(limit=limit, collections=cols, ids=ids, geom=geom if geom is not None else shape,
                     start=start, end=end, filter=flt, sort=sort, token=token or None,
                     identity=identity)  # fmt: skip


def parse_get(
    params: Mapping[str, Any], default_limit: int, max_limit: int, collections: Any = None
) -> SearchRequest:
    limit = parse_limit(params.get("limit"), default_limit, max_limit)
    query = _query(params, limit, collections=collections)
    return SearchRequest(query, parse_fields(params.get("fields"), "fields" in params))


def parse_post(body: Any, default_limit: int, max_limit: int) -> SearchRequest:
    body = json_object(body)
    if isinstance(body.get("bbox"), str):
        raise InvalidInput("'bbox' must be a JSON array", field="bbox")
    if "fields" in body and not isinstance(body["fields"], Mapping):
        raise InvalidInput("'fields' must be an object {include, exclude}", field="fields")
    limit = parse_limit(body.get("limit"), default_limit, max_limit)
    return SearchRequest(_query(body, limit), parse_fields(body.get("fields"), "fields" in body))

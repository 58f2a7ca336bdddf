"""Image rows as a search reads and checks them: decoding, the property view, and the cheap test
that a footprint's bbox lies inside the search area.

Measured at 1M images (a 20-degree box over a month, ~60 rows a search): decoding the five JSON
columns of each row through SQLAlchemy (SQLite) or psycopg (PostgreSQL) took ~40-50% of a search's
CPU time; building each row's dict through ``row._mapping`` was as costly on SQLite.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import shapely
import sqlalchemy as sa

from rastercat.store.sql.repo import t

_LISTS = ("owners", "readers", "writers", "band_names")
"""JSON columns of images that hold short lists, mostly the same few across a product's images."""


def image_columns() -> list[Any]:
    """The columns of ``images`` for a search: every one, as ``select(images)`` gives them, but
    the JSON columns as text, for :func:`dicts` to decode (psycopg decodes JSON from bytes, which
    took twice as long as from text)."""
    return [
        sa.cast(c, sa.Text).label(c.name) if isinstance(c.type, sa.JSON) else c for c in t.images.c
    ]


@lru_cache(maxsize=4096)
def _list(text: str) -> Any:
    return json.loads(text)


def _decode_list(text: str | None) -> Any:
    """A short JSON list, decoded once per distinct text; each row gets its own copy."""
    if text is None:
        return None
    value = _list(text)
    return list(value) if isinstance(value, list) else json.loads(text)


def dicts(result: sa.CursorResult[Any], raw_json: bool) -> list[dict[str, Any]]:
    """Plain dicts of the rows (zip over the keys once: ``dict(row._mapping)`` rebuilds the key
    view for every row). ``raw_json``: the JSON columns came as text (:func:`image_columns`)."""
    keys = list(result.keys())
    rows = [dict(zip(keys, r, strict=True)) for r in result]
    if raw_json:
        for row in rows:
            attrs = row["attrs"]
            row["attrs"] = None if attrs is None else json.loads(attrs)
            for k in _LISTS:
                row[k] = _decode_list(row[k])
    return rows


def flat(row: dict[str, Any]) -> dict[str, Any]:
    """An image as property filters see it: its attributes, with id, key and product."""
    return {**row["attrs"], "id": row["id"], "key": row["key"], "product": row["product_id"]}


def inner_box(geom: Any) -> tuple[float, float, float, float] | None:
    """A lon/lat box inside ``geom``: its bounds when it is a rectangle (what maps send), else
    None. A polygon with its bounds' area is its bounds, up to rounding: the box is shrunk by that
    rounding to stay inside."""
    if geom is None or geom.geom_type != "Polygon" or geom.interiors:
        return None
    minx, miny, maxx, maxy = geom.bounds
    area = (maxx - minx) * (maxy - miny)
    if area <= 0 or abs(geom.area - area) > 1e-12 * area:
        return None
    e = 1e-9 * max(1.0, abs(minx), abs(miny), abs(maxx), abs(maxy))
    return (minx + e, miny + e, maxx - e, maxy - e)


def bbox_inside(row: dict[str, Any], box: tuple[float, ...] | None, prepared: Any) -> bool:
    """Whether the row's footprint bbox lies inside the search area: then the footprint meets it
    without an exact check. Float comparisons for a rectangular area (``box``, from
    :func:`inner_box`); else one prepared-geometry test."""
    minx, miny, maxx, maxy = row["minx"], row["miny"], row["maxx"], row["maxy"]
    if minx is None or miny is None or maxx is None or maxy is None:
        return False
    if box is not None:
        return box[0] <= minx and box[1] <= miny and maxx <= box[2] and maxy <= box[3]
    return bool(prepared.contains(shapely.box(minx, miny, maxx, maxy)))

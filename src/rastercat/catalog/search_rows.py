"""Image rows as a search checks them: the property view, and the cheap test that a footprint's
bbox lies inside the search area. (Reading and decoding the rows: :mod:`rastercat.store.sql.search`.)
"""

from __future__ import annotations

from typing import Any

import shapely


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

"""The SELECT of a search's image rows, and statements of it built once per shape of filter.

Building the statement through SQLAlchemy's expression language (the comparisons, then the
statement's cache key) took ~0.4 ms a search on this machine, more than running a search that
finds nothing. A search in date order whose conditions are all plain values (products, dates, an
area, ids, the keyset position) runs one statement per shape of filter, built once, with the
values bound at execution (:func:`statement`, :func:`bind_values`); a property expression's SQL
is part of the statement (one per distinct expression: a viewer sends the same one with every
pan); a CQL2 filter is built per search (:func:`conditions` with the values themselves).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa

from rastercat.store.read_ports import Area, ImageFilter, Position
from rastercat.store.sql.areas import spatial_condition, spatial_values
from rastercat.store.sql.engine import BINARY_ROWS
from rastercat.store.sql.guards import guard_condition
from rastercat.store.sql.repo import t


@cache
def image_columns() -> tuple[Any, ...]:
    """The columns of ``images`` for a search: every one, as ``select(images)`` gives them, but
    the JSON columns as text, for ``search.dicts`` to decode (psycopg decodes JSON from bytes,
    which took twice as long as from text)."""
    return tuple(
        sa.cast(c, sa.Text).label(c.name) if isinstance(c.type, sa.JSON) else c for c in t.images.c
    )


def conditions(
    where: ImageFilter,
    refs: Mapping[str, Any],
    area: Any,
    prefilter: Any | None = None,
    months: bool = False,
) -> list[Any]:
    """The conditions of a filter on ``images``, each value taken from ``refs``: the values
    themselves, or bind parameters of a statement built once. ``area``: the area's condition
    (``Repo.spatial_clause`` or :func:`spatial_condition`). ``months``: the area goes through the
    months' index (``repo.months_pay``); the window is then tested on each row it finds, as
    ``acquired + 0``: offered the date index as well, PostgreSQL combined both (a bitmap AND
    that read the window's every row of the date index, 1.4 ms of a 1.6 ms search)."""
    c = t.images.c
    acquired = c.acquired + sa.literal_column("0") if months else c.acquired
    out: list[Any] = []
    if where.product_uids is not None:
        out.append(c.product_uid.in_(refs["uids"]))
    if where.acquired_from is not None:
        out.append(acquired >= refs["lo"])
    if where.acquired_to is not None:
        out.append(acquired <= refs["hi"])
    if where.area is not None:
        out.append(area)
    if prefilter is not None:
        out.append(prefilter)
    if where.ids is not None:
        out.append(c.id.in_(refs["ids"]))
    out.extend(where.compiled)
    if where.id_after is not None:
        out.append(c.id > refs["id_after"])
    if where.id_before is not None:
        out.append(c.id < refs["id_before"])
    return out


def literal_refs(where: ImageFilter) -> dict[str, Any]:
    """:func:`conditions`'s values for a filter built per search."""
    return {
        "uids": None if where.product_uids is None else list(where.product_uids),
        "lo": where.acquired_from,
        "hi": where.acquired_to,
        "ids": None if where.ids is None else list(where.ids),
        "id_after": where.id_after,
        "id_before": where.id_before,
    }


def after_condition(null: bool, desc: bool, dialect: str, acquired: Any, pk: Any) -> Any:
    """Rows after a keyset position in (acquired, pk) order (``null``: the position's date is
    NULL). Images with no date sort as the database puts NULLs (SQLite: smallest; PostgreSQL:
    largest), so the order can use the date index."""
    c = t.images.c
    nulls_first = desc == (dialect == "postgresql")
    pk_beyond = c.pk < pk if desc else c.pk > pk
    if null:
        rest = [c.acquired.is_not(None)] if nulls_first else []
        return sa.or_(sa.and_(c.acquired.is_(None), pk_beyond), *rest)
    rest = [] if nulls_first else [c.acquired.is_(None)]
    return sa.or_(
        c.acquired < acquired if desc else c.acquired > acquired,
        sa.and_(c.acquired == acquired, pk_beyond),
        *rest,
    )


def date_order(desc: bool) -> list[Any]:
    c = t.images.c
    return [c.acquired.desc() if desc else c.acquired.asc(), c.pk.desc() if desc else c.pk]


# statements built once ---------------------------------------------------------------------------
def attrs_key(expr: Any) -> str | None:
    """A property expression as the text that keys its SQL (None: no expression, or one that
    has no such text: it is then built per search)."""
    if expr is None:
        return None
    try:
        return json.dumps(expr, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return None


def plain(where: ImageFilter) -> bool:
    """Whether a date-ordered search of the filter can run a statement built once: its
    conditions are plain values and a property expression (built once per distinct expression),
    no CQL2."""
    return not where.compiled and (where.attrs is None or attrs_key(where.attrs) is not None)


ShapeKey = tuple[
    bool, bool, bool, bool, bool, bool, bool, bool, bool, bool | None, str | None, bool, bool
]


def shape_key(
    where: ImageFilter,
    desc: bool,
    walk: bool,
    after: Position | None,
    guarded: bool = False,
    months: bool = False,
) -> ShapeKey:
    """What a statement of :func:`statement` depends on: which conditions the filter has, the plan
    (``walk``: the date index, the area tested on each row's bbox; ``months``: the months'
    index), the keyset position's kind, and whether it checks the catalog's versions
    (``guarded``: :mod:`.guards`)."""
    return (
        walk,
        desc,
        where.product_uids is not None,
        where.acquired_from is not None,
        where.acquired_to is not None,
        where.area is not None,
        where.ids is not None,
        where.id_after is not None,
        where.id_before is not None,
        None if after is None else after[0] is None,
        attrs_key(where.attrs),
        guarded,
        months,
    )


_PARAMS: dict[str, Any] = {
    "uids": sa.bindparam("uids", expanding=True),
    "lo": sa.bindparam("lo"),
    "hi": sa.bindparam("hi"),
    "ids": sa.bindparam("ids", expanding=True),
    "id_after": sa.bindparam("id_after"),
    "id_before": sa.bindparam("id_before"),
}


@lru_cache(maxsize=1024)
def statement(key: ShapeKey, dialect: str) -> sa.Select[Any]:
    """The date-ordered search statement of a shape of filter (rows in PostgreSQL's binary
    format), built on first use: 2**9 * 3 shapes per plan, direction and dialect, times the
    distinct property expressions (the most recent ones kept)."""
    walk, desc, uids, lo, hi, area, ids, id_after, id_before, after, attrs, guarded, months = key
    shape = ImageFilter(  # which conditions there are; the values come at execution
        product_uids=() if uids else None,
        acquired_from=0.0 if lo else None,
        acquired_to=0.0 if hi else None,
        area=Area((0.0, 0.0, 0.0, 0.0)) if area else None,
        ids=() if ids else None,
        id_after="" if id_after else None,
        id_before="" if id_before else None,
    )
    spatial = spatial_condition(dialect, not walk, None, months) if area else None
    prefilter = None
    if attrs is not None:  # the expression's own SQL, its values in it (the key holds them)
        from rastercat.store.sql.search import images_prefilter

        prefilter = images_prefilter(json.loads(attrs), dialect)
    found = conditions(shape, _PARAMS, spatial, prefilter, months)
    if after is not None:
        found.append(after_condition(after, desc, dialect, sa.bindparam("after_acquired"),
                                     sa.bindparam("after_pk")))  # fmt: skip
    if guarded:
        found.append(guard_condition(sa.bindparam("guard_users"), sa.bindparam("guard_products")))
    return (
        sa.select(*image_columns())
        .select_from(t.images)
        .where(*found)
        .order_by(*date_order(desc))
        .limit(sa.bindparam("row_limit", type_=sa.Integer))
        .execution_options(**{BINARY_ROWS: True})
    )


def bind_values(
    where: ImageFilter,
    after: Position | None,
    walk: bool,
    dialect: str,
    size: int,
    months: bool = False,
) -> dict[str, Any]:
    """The values of a search for its :func:`statement`."""
    values: dict[str, Any] = {"row_limit": size}
    for name, value in literal_refs(where).items():
        if value is not None:
            values[name] = value
    if where.area is not None:
        a = where.area
        rtree = dialect == "sqlite" and not walk
        values.update(spatial_values(a.bbox, a.start, a.end, rtree, months))
    if after is not None:
        if after[0] is not None:
            values["after_acquired"] = after[0]
        values["after_pk"] = after[1]
    return values

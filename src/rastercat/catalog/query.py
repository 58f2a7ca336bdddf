"""The property filter grammar of the Metadata service (protocol §3.6), evaluated on flat images.

::

    expr := {"and": [expr, ...]} | {"or": [expr, ...]}
          | {"eq": {prop: value}} | {"ne": {prop: value}} | {"in": {prop: [values]}}
          | {"like": {prop: "SQL LIKE pattern"}}
          | {"range": {prop: {"gt"|"gte"|"lt"|"lte": value, ...}}}

A missing property makes ``eq``, ``in``, ``range`` and ``like`` false (and ``ne`` true). Properties are
looked up on the image, then in its ``extra_properties``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from rastercat.errors import InvalidInput

Predicate = Callable[[Mapping[str, Any]], bool]
_MISSING = object()


def _get(image: Mapping[str, Any], prop: str) -> Any:
    if prop in image:
        return image[prop]
    extra = image.get("extra_properties") or {}
    return extra.get(prop, _MISSING)


@lru_cache(maxsize=256)
def _like_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def _comparable(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Numbers compare as numbers; ISO date strings as datetimes; other strings as strings."""
    if isinstance(a, bool) or isinstance(b, bool):
        return (a, b) if type(a) is type(b) else None
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a, b
    if isinstance(a, str) and isinstance(b, str):
        try:
            da = datetime.fromisoformat(a.replace("Z", "+00:00"))
            db = datetime.fromisoformat(b.replace("Z", "+00:00"))
            if (da.tzinfo is None) == (db.tzinfo is None):
                return da, db
        except ValueError:
            pass
        return a, b
    return None


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _single(expr: Mapping[str, Any], op: str) -> tuple[str, Any]:
    body = expr[op]
    if not isinstance(body, Mapping) or len(body) != 1:
        raise InvalidInput(f"query_expr: '{op}' takes exactly one property", field="query_expr")
    ((prop, value),) = body.items()
    return str(prop), value


def compile_expr(expr: Any) -> Predicate:
    if isinstance(expr, list):
        return compile_expr({"and": expr})
    if not isinstance(expr, Mapping) or len(expr) != 1:
        raise InvalidInput(
            "query_expr: each expression is an object with one operator", field="query_expr"
        )
    (op,) = expr.keys()
    if op in ("and", "or"):
        parts = expr[op]
        if not isinstance(parts, list):
            raise InvalidInput(f"query_expr: '{op}' takes a list", field="query_expr")
        preds = [compile_expr(p) for p in parts]
        if op == "and":
            return lambda img: all(p(img) for p in preds)
        return lambda img: any(p(img) for p in preds)
    if op in ("eq", "ne"):
        prop, value = _single(expr, op)

        def eq(img: Mapping[str, Any]) -> bool:
            got = _get(img, prop)
            if got is _MISSING:
                return False
            pair = _comparable(got, value)
            return pair is not None and pair[0] == pair[1]

        return eq if op == "eq" else (lambda img: not eq(img))
    if op == "in":
        prop, values = _single(expr, op)
        if not isinstance(values, list):
            raise InvalidInput("query_expr: 'in' takes a list of values", field="query_expr")
        options = list(values)
        return lambda img: (got := _get(img, prop)) is not _MISSING and got in options
    if op == "like":
        prop, pattern = _single(expr, op)
        if not isinstance(pattern, str):
            raise InvalidInput("query_expr: 'like' takes a string pattern", field="query_expr")
        rx = _like_regex(pattern)
        return lambda img: isinstance(got := _get(img, prop), str) and rx.fullmatch(got) is not None
    if op == "range":
        prop, bounds = _single(expr, op)
        if not isinstance(bounds, Mapping) or not bounds or set(bounds) - set(_OPS):
            raise InvalidInput(
                "query_expr: 'range' takes gt, gte, lt and/or lte", field="query_expr"
            )
        checks = [(_OPS[k], v) for k, v in bounds.items()]

        def in_range(img: Mapping[str, Any]) -> bool:
            got = _get(img, prop)
            if got is _MISSING or got is None:
                return False
            for fn, bound in checks:
                pair = _comparable(got, bound)
                if pair is None or not fn(*pair):
                    return False
            return True

        return in_range
    raise InvalidInput(f"query_expr: unknown operator {op!r}", field="query_expr")


def _number(element: Any, dialect: str) -> Any:
    """A JSON value as a float in SQL; NULL where it is not a number. PostgreSQL raises on casting
    a non-numeric string, so the cast sits behind a CASE (which, unlike AND, fixes the order)."""
    import sqlalchemy as sa

    if dialect == "postgresql":
        return sa.case((sa.func.json_typeof(element) == "number", element.as_float()), else_=None)
    return element.as_float()


_SQL_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def sql_prefilter(expr: Any, attrs_column: Any, dialect: str = "sqlite") -> Any | None:
    """A SQL clause that keeps every image :func:`compile_expr` may accept (it may keep more), or
    None when nothing can be said in SQL. Only numeric ``range`` bounds are translated: they are
    the common case (``cloud_fraction < 0.5``) and their JSON comparison means the same on SQLite
    and PostgreSQL. The exact predicate still runs on every candidate."""
    import sqlalchemy as sa

    if isinstance(expr, list):
        expr = {"and": expr}
    if not isinstance(expr, Mapping) or len(expr) != 1:
        return None
    (op,) = expr.keys()
    if op in ("and", "or") and isinstance(expr[op], list):
        parts = [sql_prefilter(e, attrs_column, dialect) for e in expr[op]]
        if op == "and":
            kept = [c for c in parts if c is not None]
            return sa.and_(*kept) if kept else None
        if not parts or any(c is None for c in parts):
            return None
        return sa.or_(*[c for c in parts if c is not None])
    if op != "range" or not isinstance(expr[op], Mapping) or len(expr[op]) != 1:
        return None
    ((prop, bounds),) = expr[op].items()
    if not isinstance(bounds, Mapping) or not bounds or set(bounds) - set(_OPS):
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bounds.values()):
        return None
    # The property may sit on the image or in its extra_properties (as _get looks it up).
    paths = tuple(
        _number(element, dialect)
        for element in (attrs_column[str(prop)], attrs_column["extra_properties"][str(prop)])
    )
    alternatives = [sa.and_(*[_SQL_OPS[k](path, v) for k, v in bounds.items()]) for path in paths]
    return sa.or_(*alternatives)

"""CQL2 filters, as CQL2-JSON (the ``cql2`` package parses text and JSON into it), compiled into
SQL on the ``images`` table, with bind parameters, for SQLite and PostgreSQL alike.

Properties map as in the Metadata search: ``id``, ``collection`` and ``datetime`` are columns
(``datetime`` is the acquisition time), ``geometry`` the footprint, and any other name the image's
attribute, else the same name in its ``extra_properties``. A comparison only holds between values of
the same JSON type (a number property is never equal to a string), and a missing property makes
every comparison unknown (false, also under NOT), as CQL2's three-valued logic says.

Spatial functions use the spatial index (the footprints' bounding boxes). Where a spatial test is
one of the filter's top-level conditions (the usual case), each candidate is also checked exactly
against its footprint, as the Metadata search checks ``geom``; inside ``or`` or ``not`` a spatial
test is decided on bounding boxes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from rastercat.store.read_ports import CompiledFilter
from rastercat.store.sql.repo import Repo, t
from rastercat.store.sql.search_cql2_values import (
    fail,
    glob_pattern,
    like_pattern,
    seconds,
    shape_of,
    span,
    temporal,
)

COLUMNS = {"id": "id", "collection": "product_id", "product": "product_id", "key": "key"}
"""Properties read from image columns rather than from the attributes."""
SPATIAL = {"s_intersects", "s_equals", "s_disjoint", "s_touches", "s_within", "s_overlaps",
           "s_crosses", "s_contains"}  # fmt: skip
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "=": lambda a, b: a == b, "<>": lambda a, b: a != b, "<": lambda a, b: a < b,
    ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, ">=": lambda a, b: a >= b,
}  # fmt: skip
MIRRORED = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


def compile_filter(node: Any, repo: Repo) -> CompiledFilter:
    try:
        text = json.dumps(node, sort_keys=True)
    except (TypeError, ValueError):
        return _compile(node, repo)
    facts = _Facts(repo.dialect, repo.has_rtree)
    cached = _compile_cached(text, facts)
    if cached is not None:
        return cached
    return _compile(node, repo)


@dataclass(frozen=True)
class _Facts:
    """What compiling depends on besides the filter: the database kind."""

    dialect: str
    has_rtree: bool


@lru_cache(maxsize=256)
def _compile_cached(text: str, facts: _Facts) -> CompiledFilter | None:
    """A filter's SQL by its JSON text: the same filter on every page of a search (and the same
    few filters of a client's searches) compiles once. SQL expressions are immutable and safe to
    share between threads; a filter with exact footprint checks is not cached (None) because its
    prepared shapely geometry is not safe to share. Invalid filters raise and are not cached."""
    compiled = _compile(json.loads(text), facts)
    return compiled if compiled.refine is None else None


def _compile(node: Any, repo: Any) -> CompiledFilter:
    compiler = _Compiler(repo)
    clause = compiler.condition(node)
    checks = [c for n in _conjuncts(node) if (c := compiler.exact_check(n)) is not None]
    if not checks:
        return CompiledFilter(clause)
    return CompiledFilter(clause, lambda attrs: all(check(attrs) for check in checks))


def _op(node: Any) -> tuple[str, list[Any]]:
    if not isinstance(node, dict) or "op" not in node:
        raise fail(f"{node!r} is not a condition")
    args = node.get("args") or []
    if not isinstance(args, list):
        raise fail(f"the arguments of {node['op']!r} must be a list")
    return str(node["op"]), args


def _conjuncts(node: Any) -> list[Any]:
    if isinstance(node, dict) and node.get("op") == "and":
        return [c for a in node.get("args") or [] for c in _conjuncts(a)]
    return [node]


def _name(node: Any) -> str | None:
    if isinstance(node, dict) and set(node) == {"property"}:
        return str(node["property"]).removeprefix("properties.")
    return None


class _Compiler:
    def __init__(self, repo: Repo | _Facts) -> None:
        self.repo = repo
        self.dialect = repo.dialect

    # JSON properties ---------------------------------------------------------------------------
    def _json(self, prop: str, kind: str) -> Any:
        """The property as SQL of one JSON ``kind`` (number, string, boolean); NULL otherwise."""
        if not prop or '"' in prop or "\\" in prop:
            raise fail(f"{prop!r} is not a property name")
        attrs = t.images.c.attrs
        options = []
        for path in ([prop], ["extra_properties", prop]):
            if self.dialect == "postgresql":
                element: Any = attrs
                for p in path:
                    element = element.op("->", return_type=sa.JSON)(sa.literal(p, sa.String))
                typ = sa.func.json_typeof(element, type_=sa.String)
                text = element.op("#>>", return_type=sa.Text)(sa.literal_column("'{}'::text[]"))
                wanted = {"number": "number", "string": "string", "boolean": "boolean"}[kind]
                value: Any = {"number": sa.cast(text, sa.Float), "string": text,
                              "boolean": text == "true"}[kind]  # fmt: skip
                options.append((typ == wanted, value))
            else:
                jpath = sa.literal("$." + ".".join(f'"{p}"' for p in path), sa.String)
                typ = sa.func.json_type(attrs, jpath, type_=sa.String)
                raw = sa.func.json_extract(attrs, jpath)
                if kind == "number":
                    options.append((typ.in_(("integer", "real")), sa.type_coerce(raw, sa.Float)))
                elif kind == "string":
                    options.append((typ == "text", sa.type_coerce(raw, sa.String)))
                else:
                    options.append((typ.in_(("true", "false")), typ == "true"))
        return sa.case(*options, else_=None)

    def _present(self, prop: str) -> Any:
        """The property is there and not JSON null (own or extra)."""
        if prop in COLUMNS:
            return sa.true()
        if prop == "datetime":
            return t.images.c.acquired.is_not(None)
        if prop == "geometry":
            return t.images.c.minx.is_not(None)
        attrs = t.images.c.attrs
        found = []
        for path in ([prop], ["extra_properties", prop]):
            if self.dialect == "postgresql":
                element: Any = attrs
                for p in path:
                    element = element.op("->", return_type=sa.JSON)(sa.literal(p, sa.String))
                found.append(sa.func.coalesce(sa.func.json_typeof(element), "null") != "null")
            else:
                jpath = sa.literal("$." + ".".join(f'"{p}"' for p in path), sa.String)
                found.append(sa.func.coalesce(sa.func.json_type(attrs, jpath), "null") != "null")
        return sa.or_(*found)

    def _operand(self, node: Any, literal: Any) -> tuple[Any, Any]:
        """(SQL of the property ``node``, bind value of ``literal``) typed by the literal."""
        prop = _name(node)
        if prop is None:
            raise fail("a comparison needs a property on one side and a value on the other")
        when = temporal(literal)
        if prop == "datetime":
            if when is None:
                raise fail("'datetime' compares with TIMESTAMP(...) or DATE(...)")
            return t.images.c.acquired, seconds(when)
        if prop == "geometry":
            raise fail("'geometry' is compared with spatial functions (S_INTERSECTS...)")
        if prop in COLUMNS:
            if not isinstance(literal, str):
                raise fail(f"'{prop}' compares with strings")
            return t.images.c[COLUMNS[prop]], literal
        if isinstance(literal, bool):
            return self._json(prop, "boolean"), literal
        if isinstance(literal, int | float):
            return self._json(prop, "number"), float(literal)
        if isinstance(literal, str):
            return self._json(prop, "string"), literal
        if when is not None:
            # Dates in attributes are ISO strings in UTC, which sort as text.
            if not isinstance(when, datetime):
                when = datetime(when.year, when.month, when.day, tzinfo=UTC)
            return self._json(prop, "string"), when.astimezone(UTC).isoformat()
        raise fail(f"cannot compare a property with {literal!r}")

    # conditions --------------------------------------------------------------------------------
    def condition(self, node: Any) -> Any:
        if isinstance(node, bool):
            return sa.true() if node else sa.false()
        if _name(node) is not None:  # a boolean property on its own
            return self._json(_name(node) or "", "boolean") == sa.true()
        op, args = _op(node)
        if op in ("and", "or"):
            if not args:
                raise fail(f"'{op}' needs conditions")
            parts = [self.condition(a) for a in args]
            return sa.and_(*parts) if op == "and" else sa.or_(*parts)
        if op == "not":
            if len(args) != 1:
                raise fail("'not' takes one condition")
            return sa.not_(self.condition(args[0]))
        if op in COMPARISONS:
            return self._comparison(op, args)
        if op == "between":
            if len(args) != 3:
                raise fail("'between' takes a property and two values")
            expr, low = self._operand(args[0], args[1])
            _, high = self._operand(args[0], args[2])
            return sa.and_(expr >= low, expr <= high)
        if op == "in":
            return self._in(args)
        if op == "like":
            return self._like(args)
        if op == "isNull":
            prop = _name(args[0]) if len(args) == 1 else None
            if prop is None:
                raise fail("'isNull' applies to a property")
            return sa.not_(self._present(prop))
        if op.startswith("t_"):
            return self._temporal_op(op, args)
        if op in SPATIAL:
            return self._spatial(op, args)
        raise fail(f"the operator {op!r} is not supported")

    def _comparison(self, op: str, args: list[Any]) -> Any:
        if len(args) != 2:
            raise fail(f"'{op}' takes two arguments")
        lhs, rhs = args
        if _name(lhs) is None and _name(rhs) is not None:  # a value on the left: mirror
            lhs, rhs, op = rhs, lhs, MIRRORED.get(op, op)
        expr, value = self._operand(lhs, rhs)
        return COMPARISONS[op](expr, value)

    def _in(self, args: list[Any]) -> Any:
        if len(args) != 2 or not isinstance(args[1], list):
            raise fail("'in' takes a property and a list of values")
        if not args[1]:
            return sa.false()
        by_type: dict[type, list[Any]] = {}
        for v in args[1]:
            by_type.setdefault(type(v) if not isinstance(v, int | float) or isinstance(v, bool)
                               else float, []).append(v)  # fmt: skip
        parts = []
        for values in by_type.values():
            expr, _ = self._operand(args[0], values[0])
            parts.append(expr.in_([self._operand(args[0], v)[1] for v in values]))
        return sa.or_(*parts)

    def _like(self, args: list[Any]) -> Any:
        if len(args) != 2:
            raise fail("'like' takes a property and a pattern")
        lhs, pattern = args
        nocase = False
        if isinstance(lhs, dict) and lhs.get("op") == "casei":
            lhs, nocase = (lhs.get("args") or [None])[0], True
        if isinstance(pattern, dict) and pattern.get("op") == "casei":
            pattern, nocase = (pattern.get("args") or [None])[0], True
        if not isinstance(pattern, str):
            raise fail("'like' takes a string pattern")
        expr, _ = self._operand(lhs, pattern)
        if nocase:
            expr, pattern = sa.func.lower(expr), pattern.lower()
        if self.dialect == "sqlite":  # SQLite's LIKE ignores case; GLOB does not
            return expr.op("GLOB", is_comparison=True)(glob_pattern(pattern))
        return expr.like(like_pattern(pattern), escape="\\")

    def _temporal_op(self, op: str, args: list[Any]) -> Any:
        if len(args) != 2:
            raise fail(f"'{op}' takes two arguments")
        lhs, rhs = args
        if _name(lhs) != "datetime":
            lhs, rhs = rhs, lhs
            op = {"t_before": "t_after", "t_after": "t_before"}.get(op, op)
        if _name(lhs) != "datetime":
            raise fail("temporal functions apply to 'datetime'")
        lo, hi = span(rhs)
        c = t.images.c.acquired
        within = sa.and_(
            c.is_not(None),
            sa.true() if lo is None else c >= lo,
            sa.true() if hi is None else c <= hi,
        )
        if op in ("t_intersects", "t_during", "t_equals", "t_overlaps", "t_contains"):
            return within
        if op == "t_disjoint":
            return sa.and_(c.is_not(None), sa.not_(within))
        if op == "t_before":
            return sa.false() if lo is None else c < lo
        if op == "t_after":
            return sa.false() if hi is None else c > hi
        raise fail(f"'{op}' is not supported: images have an instant 'datetime'")

    def _spatial_args(self, op: str, args: list[Any]) -> tuple[str, Any]:
        if len(args) != 2:
            raise fail(f"'{op}' takes two arguments")
        lhs, rhs = args
        name = op.removeprefix("s_")
        if _name(lhs) != "geometry":
            lhs, rhs = rhs, lhs
            name = {"within": "contains", "contains": "within"}.get(name, name)
        if _name(lhs) != "geometry":
            raise fail("spatial functions apply to 'geometry'")
        return name, shape_of(rhs)

    def _index_overlap(self, bounds: tuple[float, float, float, float]) -> Any:
        """Footprint bboxes meeting ``bounds``, answered by the spatial index. Like
        ``Repo.spatial_clause``, but with SQLAlchemy's own (unique) bind parameters, since one
        filter may hold several spatial tests beside the search's own area."""
        minx, miny, maxx, maxy = (float(v) for v in bounds)
        if self.repo.has_rtree:
            rt = sa.table(
                "images_rtree", *(sa.column(n) for n in ("pk", "minx", "maxx", "miny", "maxy"))
            )
            inside = sa.select(rt.c.pk).where(
                rt.c.minx <= maxx, rt.c.maxx >= minx, rt.c.miny <= maxy, rt.c.maxy >= miny
            )
            return t.images.c.pk.in_(inside)
        if self.dialect == "postgresql":
            envelope = sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)
            return sa.literal_column("images.footprint").op("&&", is_comparison=True)(envelope)
        c = t.images.c
        return sa.and_(c.minx <= maxx, c.maxx >= minx, c.miny <= maxy, c.maxy >= miny)

    def _spatial(self, op: str, args: list[Any]) -> Any:
        name, geom = self._spatial_args(op, args)
        minx, miny, maxx, maxy = geom.bounds
        c = t.images.c
        meets = self._index_overlap(geom.bounds)
        if name in ("intersects", "touches", "crosses", "overlaps"):
            return meets
        if name == "disjoint":
            return sa.or_(c.minx.is_(None), sa.not_(meets))
        if name == "within":
            return sa.and_(meets, c.minx >= minx, c.maxx <= maxx, c.miny >= miny, c.maxy <= maxy)
        if name == "contains":
            return sa.and_(meets, c.minx <= minx, c.maxx >= maxx, c.miny <= miny, c.maxy >= maxy)
        return sa.and_(meets, c.minx == minx, c.maxx == maxx, c.miny == miny, c.maxy == maxy)

    def exact_check(self, node: Any) -> Callable[[Mapping[str, Any]], bool] | None:
        """The exact footprint test of a top-level spatial condition (None for other nodes)."""
        if not isinstance(node, dict) or node.get("op") not in SPATIAL:
            return None
        import shapely.prepared
        from shapely.geometry import shape

        name, geom = self._spatial_args(*_op(node))
        prepared = shapely.prepared.prep(geom)
        relation: Callable[[Any], bool] = {
            "intersects": prepared.intersects, "disjoint": prepared.disjoint,
            "within": prepared.contains, "contains": prepared.within,
            "touches": prepared.touches, "crosses": prepared.crosses,
            "overlaps": prepared.overlaps, "equals": geom.equals,
        }[name]  # fmt: skip

        def check(attrs: Mapping[str, Any]) -> bool:
            footprint = attrs.get("geometry")
            if not footprint:
                return name == "disjoint"
            return bool(relation(shape(footprint)))

        return check

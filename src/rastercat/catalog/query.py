"""The property filter grammar of the Metadata service (protocol §3.6), evaluated on flat images.

::

    expr := {"and": [expr, ...]} | {"or": [expr, ...]}
          | {"eq": {prop: value}} | {"ne": {prop: value}} | {"in": {prop: [values]}}
          | {"like": {prop: "SQL LIKE pattern"}}
          | {"range": {prop: {"gt"|"gte"|"lt"|"lte": value, ...}}}

A missing property makes ``eq``, ``in``, ``range`` and ``like`` false (and ``ne`` true). Properties are
looked up on the image, then in its ``extra_properties``. What the store can narrow of an expression
in SQL is :func:`rastercat.store.sql.search.sql_prefilter`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from rastercat.errors import InvalidInput

Predicate = Callable[[Mapping[str, Any]], bool]
_MISSING = object()
MAX_DEPTH = 32
"""Deepest nesting of ``and``/``or`` in a ``query_expr``."""
MAX_TERMS = 20_000
"""Most operators and listed values in one ``query_expr`` (``sat_ids`` count too)."""
_MAX_INT = 2**63 - 1


def finite_number(value: Any, field: str) -> int | float:
    """A JSON number the database can take: finite, and an integer within 64 bits (JSON allows
    ``Infinity`` and integers of any size; SQLite raises OverflowError on them)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"'{field}' must be a number", field=field)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(f"'{field}' must be a finite number", field=field)
    if isinstance(value, int) and abs(value) > _MAX_INT:
        raise InvalidInput(f"'{field}' is out of range (at most 64-bit integers)", field=field)
    return value


def _check_value(value: Any) -> None:
    """Numbers in a ``query_expr`` must be finite (and integers within 64 bits)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        finite_number(value, "query_expr")


def _get(image: Mapping[str, Any], prop: str) -> Any:
    if prop in image:
        return image[prop]
    extra = image.get("extra_properties") or {}
    return extra.get(prop, _MISSING)


MAX_LIKE_PATTERN = 1_000
"""Longest ``like`` pattern (characters)."""


@lru_cache(maxsize=256)
def like_matcher(pattern: str) -> Callable[[str], bool]:
    """A test of SQL LIKE ``pattern`` (``%`` any run, ``_`` one character, ``\\`` escapes), in
    time linear in the text for each piece of the pattern: never backtracking.

    A LIKE pattern translated to a regular expression (``.*`` per ``%``) backtracks: ``%a%a%a%a%c``
    against a long id took minutes. Here the pattern is cut at each ``%`` into pieces of fixed
    length; the first must match at the start, the last at the end, and each middle piece is
    searched for left to right from where the previous one ended. Taking the leftmost place of
    each piece never loses a match, so there is nothing to try again."""
    if len(pattern) > MAX_LIKE_PATTERN:
        raise InvalidInput(
            f"query_expr: a 'like' pattern is at most {MAX_LIKE_PATTERN} characters",
            field="query_expr",
        )
    pieces: list[list[str]] = [[]]  # each piece: regex atoms of one character each
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            pieces[-1].append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if c == "%":
            pieces.append([])
        else:
            pieces[-1].append("." if c == "_" else re.escape(c))
        i += 1
    # Fixed-length regexes (no quantifier): matching one costs at most its length per position.
    compiled = [(re.compile("".join(p), re.DOTALL), len(p)) for p in pieces]
    if len(compiled) == 1:
        ((whole, _),) = compiled
        return lambda text: whole.fullmatch(text) is not None
    (first, first_len), *middle, (last, last_len) = compiled

    def match(text: str) -> bool:
        end = len(text) - last_len
        if end < first_len or first.match(text, 0, first_len) is None:
            return False
        if last.match(text, end) is None:
            return False
        pos = first_len
        for piece, size in middle:
            if size == 0:
                continue
            found = piece.search(text, pos, end)
            if found is None:
                return False
            pos = found.end()
        return True

    return match


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


class _Budget:
    """Counts what one ``query_expr`` costs to compile and to run on every candidate."""

    def __init__(self) -> None:
        self.terms = 0

    def spend(self, n: int = 1) -> None:
        self.terms += n
        if self.terms > MAX_TERMS:
            raise InvalidInput(
                f"query_expr: at most {MAX_TERMS} operators and values", field="query_expr"
            )


def compile_expr(expr: Any) -> Predicate:
    """A predicate on flat images for ``expr`` (see the module docstring); 400 naming
    ``query_expr`` when it is malformed or beyond the caps (depth, terms, pattern length)."""
    return _compile(expr, 0, _Budget())


def _compile(expr: Any, depth: int, budget: _Budget) -> Predicate:
    if depth > MAX_DEPTH:
        raise InvalidInput(
            f"query_expr: nested more than {MAX_DEPTH} levels deep", field="query_expr"
        )
    budget.spend()
    if isinstance(expr, list):
        return _compile({"and": expr}, depth + 1, budget)
    if not isinstance(expr, Mapping) or len(expr) != 1:
        raise InvalidInput(
            "query_expr: each expression is an object with one operator", field="query_expr"
        )
    (op,) = expr.keys()
    if op in ("and", "or"):
        parts = expr[op]
        if not isinstance(parts, list):
            raise InvalidInput(f"query_expr: '{op}' takes a list", field="query_expr")
        preds = [_compile(p, depth + 1, budget) for p in parts]
        if op == "and":
            return lambda img: all(p(img) for p in preds)
        return lambda img: any(p(img) for p in preds)
    if op in ("eq", "ne"):
        prop, value = _single(expr, op)
        _check_value(value)

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
        budget.spend(len(values))
        for v in values:
            _check_value(v)
        options: list[Any] | frozenset[Any] = list(values)
        if all(isinstance(v, str | int | float) for v in values):
            options = frozenset(values)  # the same equality as the list, in constant time

        def is_in(img: Mapping[str, Any]) -> bool:
            got = _get(img, prop)
            try:
                return got is not _MISSING and got in options
            except TypeError:  # an unhashable value (a list) is in no set of scalars
                return False

        return is_in
    if op == "like":
        prop, pattern = _single(expr, op)
        if not isinstance(pattern, str):
            raise InvalidInput("query_expr: 'like' takes a string pattern", field="query_expr")
        matches = like_matcher(pattern)
        return lambda img: isinstance(got := _get(img, prop), str) and matches(got)
    if op == "range":
        prop, bounds = _single(expr, op)
        if not isinstance(bounds, Mapping) or not bounds or set(bounds) - set(_OPS):
            raise InvalidInput(
                "query_expr: 'range' takes gt, gte, lt and/or lte", field="query_expr"
            )
        for v in bounds.values():
            _check_value(v)
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

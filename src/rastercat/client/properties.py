"""The property-expression DSL for image searches (wire protocol §3.6).

::

    from rastercat import properties as p
    q = (p.cloud_fraction < 0.5) & ((0.1 < p.area <= 2) | (p.sat_id == "X")) & p.key.like("bl%")
    q.serialize()
    # {"and": [{"range": {"cloud_fraction": {"lt": 0.5}}},
    #          {"or": [{"range": {"area": {"gt": 0.1, "lte": 2}}}, {"eq": {"sat_id": "X"}}]},
    #          {"like": {"key": "bl%"}}]}

Chained comparisons: Python evaluates ``0.1 < p.area <= 2`` as ``(p.area > 0.1) and (p.area <= 2)``
with ``p.area`` evaluated once, and ``and`` returns the second (truthy) operand. So, as in the 0.17 client,
a :class:`Property` accumulates the bounds compared against it, and each comparison returns a range over
everything accumulated so far: the second result carries both ``gt`` and ``lte``. Every attribute access
on :data:`properties` makes a fresh ``Property``, so separate expressions never share bounds; keep
``properties.x`` in a variable and compare it twice, and the second range includes the first bound too.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "And",
    "Eq",
    "Expression",
    "In",
    "Like",
    "Ne",
    "Or",
    "Properties",
    "Property",
    "Range",
    "properties",
    "query_expr",
]


def _json_value(value: Any) -> Any:
    """Dates and datetimes become ISO-8601 strings (the server compares dates as strings/timestamps)."""
    if isinstance(value, _dt.datetime | _dt.date):
        return value.isoformat()
    return value


class Expression:
    """A filter on image properties; combine with ``&`` and ``|``, send ``serialize()``."""

    def serialize(self) -> dict[str, Any]:
        raise NotImplementedError

    def __and__(self, other: Expression) -> And:
        return And(*_operands(And, self), *_operands(And, _check(other)))

    def __or__(self, other: Expression) -> Or:
        return Or(*_operands(Or, self), *_operands(Or, _check(other)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.serialize()!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Expression) and self.serialize() == other.serialize()

    __hash__ = None  # type: ignore[assignment]


def _check(other: object) -> Expression:
    if not isinstance(other, Expression):
        raise TypeError(f"can only combine property expressions, not {type(other).__name__}")
    return other


def _operands(kind: type[And] | type[Or], expr: Expression) -> tuple[Expression, ...]:
    # (a & b) & c is flattened to one "and" of three: same meaning, a shallower query.
    return expr.operands if isinstance(expr, kind) else (expr,)


class _Compare(Expression):
    op = ""

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.value = value

    def serialize(self) -> dict[str, Any]:
        return {self.op: {self.name: _json_value(self.value)}}


class Eq(_Compare):
    op = "eq"


class Ne(_Compare):
    op = "ne"


class Like(_Compare):
    """SQL LIKE: ``%`` any run, ``_`` one character, backslash escapes."""

    op = "like"


class In(_Compare):
    """The property equals one of the values (a rastercat extension of the 0.17 grammar)."""

    op = "in"

    def serialize(self) -> dict[str, Any]:
        return {"in": {self.name: [_json_value(v) for v in self.value]}}


class Range(Expression):
    def __init__(self, name: str, bounds: dict[str, Any]) -> None:
        self.name = name
        self.bounds = dict(bounds)

    def serialize(self) -> dict[str, Any]:
        return {"range": {self.name: {k: _json_value(v) for k, v in self.bounds.items()}}}


class _Combine(Expression):
    op = ""

    def __init__(self, *operands: Expression) -> None:
        if not operands:
            raise ValueError(f"{self.op!r} needs at least one expression")
        self.operands = tuple(_check(o) for o in operands)

    def serialize(self) -> dict[str, Any]:
        return {self.op: [o.serialize() for o in self.operands]}


class And(_Combine):
    op = "and"


class Or(_Combine):
    op = "or"


class Property:
    """One image property, e.g. ``properties.cloud_fraction``; compare it to build an expression."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._bounds: dict[str, Any] = {}

    def _range(self, op: str, value: Any) -> Range:
        self._bounds[op] = value
        return Range(self.name, self._bounds)

    def __lt__(self, value: Any) -> Range:
        return self._range("lt", value)

    def __le__(self, value: Any) -> Range:
        return self._range("lte", value)

    def __gt__(self, value: Any) -> Range:
        return self._range("gt", value)

    def __ge__(self, value: Any) -> Range:
        return self._range("gte", value)

    def __eq__(self, value: Any) -> Eq:  # type: ignore[override]
        return Eq(self.name, value)

    def __ne__(self, value: Any) -> Ne:  # type: ignore[override]
        return Ne(self.name, value)

    __hash__ = None  # type: ignore[assignment]

    def like(self, pattern: str) -> Like:
        return Like(self.name, pattern)

    def in_(self, values: Iterable[Any]) -> In:
        if isinstance(values, str | bytes):
            raise TypeError("in_() takes a list of values, not a single string")
        return In(self.name, list(values))

    def __repr__(self) -> str:
        return f"Property({self.name!r})"


class Properties:
    """Attribute access gives a fresh :class:`Property`: ``properties.cloud_fraction``."""

    def __getattr__(self, name: str) -> Property:
        if name.startswith("__"):  # keep copy/pickle/introspection protocols working
            raise AttributeError(name)
        return Property(name)

    def __getitem__(self, name: str) -> Property:
        return Property(name)


properties = Properties()


def query_expr(
    q: Expression | dict[str, Any] | Sequence[Expression | dict[str, Any]] | None,
) -> dict[str, Any] | None:
    """The ``query_expr`` the 0.17 client sends for ``q=``: always ``{"and": [...]}``, or None."""
    if q is None:
        return None
    items = [q] if isinstance(q, Expression | dict) else list(q)
    if not items:
        return None
    out = []
    for item in items:
        if isinstance(item, Expression):
            out.append(item.serialize())
        elif isinstance(item, dict):
            out.append(item)
        else:
            raise TypeError(f"q must hold property expressions, not {type(item).__name__}")
    return {"and": out}

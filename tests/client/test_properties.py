"""The property-expression DSL serializes to the wire protocol's §3.6 grammar."""

from __future__ import annotations

import datetime as dt

import pytest

import rastercat as rc
from rastercat.client.properties import And, Or, Property, Range, properties, query_expr

p = properties


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (p.cloud_fraction < 0.5, {"range": {"cloud_fraction": {"lt": 0.5}}}),
        (p.cloud_fraction <= 0.5, {"range": {"cloud_fraction": {"lte": 0.5}}}),
        (p.cloud_fraction > 0.5, {"range": {"cloud_fraction": {"gt": 0.5}}}),
        (p.cloud_fraction >= 0.5, {"range": {"cloud_fraction": {"gte": 0.5}}}),
        # reflected: 0.5 > p.x is p.x < 0.5
        (0.5 > p.cloud_fraction, {"range": {"cloud_fraction": {"lt": 0.5}}}),
        (0.5 <= p.cloud_fraction, {"range": {"cloud_fraction": {"gte": 0.5}}}),
        (p.key == "blue", {"eq": {"key": "blue"}}),
        ("blue" == p.key, {"eq": {"key": "blue"}}),
        (p.sat_id != "x", {"ne": {"sat_id": "x"}}),
        (p.key.like("bl%"), {"like": {"key": "bl%"}}),
        (p.key.in_(["a", "b"]), {"in": {"key": ["a", "b"]}}),
        (p.key.in_(("a",)), {"in": {"key": ["a"]}}),
        (p["key"] == 1, {"eq": {"key": 1}}),
    ],
)
def test_single_expressions(expr, expected):
    assert expr.serialize() == expected


def test_chained_comparison_is_one_range_with_both_bounds():
    assert (0.1 < p.area <= 2).serialize() == {"range": {"area": {"gt": 0.1, "lte": 2}}}
    assert (2 >= p.area > 0.1).serialize() == {"range": {"area": {"lte": 2, "gt": 0.1}}}
    assert (0.1 <= p.x < 0.2).serialize() == {"range": {"x": {"gte": 0.1, "lt": 0.2}}}


def test_separate_attribute_accesses_do_not_share_bounds():
    a = p.cloud_fraction < 0.5
    b = p.cloud_fraction > 0.1
    assert a.serialize() == {"range": {"cloud_fraction": {"lt": 0.5}}}
    assert b.serialize() == {"range": {"cloud_fraction": {"gt": 0.1}}}


def test_an_earlier_range_is_not_changed_by_a_later_comparison():
    prop = Property("x")
    first = prop > 1
    second = prop < 3
    assert first.serialize() == {"range": {"x": {"gt": 1}}}
    assert second.serialize() == {"range": {"x": {"gt": 1, "lt": 3}}}


def test_the_guide_query_serializes_like_the_old_client():
    q = (p.cloud_fraction < 0.5) & ((0.1 < p.area <= 2) | (p.sat_id == "X")) & p.key.like("bl%")
    assert q.serialize() == {
        "and": [
            {"range": {"cloud_fraction": {"lt": 0.5}}},
            {"or": [{"range": {"area": {"gt": 0.1, "lte": 2}}}, {"eq": {"sat_id": "X"}}]},
            {"like": {"key": "bl%"}},
        ]
    }


def test_nested_same_combinators_flatten_but_mixed_ones_nest():
    a, b, c = p.a == 1, p.b == 2, p.c == 3
    assert isinstance(a & b & c, And)
    assert len((a & b & c).operands) == 3
    assert len((a | b | c).operands) == 3
    assert (a & (b | c)).serialize() == {
        "and": [{"eq": {"a": 1}}, {"or": [{"eq": {"b": 2}}, {"eq": {"c": 3}}]}]
    }
    assert isinstance((a & b) | c, Or)


def test_dates_serialize_as_iso_strings():
    when = dt.datetime(2018, 1, 1, 12, tzinfo=dt.UTC)
    assert (p.acquired >= when).serialize() == {
        "range": {"acquired": {"gte": "2018-01-01T12:00:00+00:00"}}
    }
    assert (p.acquired == dt.date(2018, 1, 2)).serialize() == {"eq": {"acquired": "2018-01-02"}}
    assert p.acquired.in_([dt.date(2018, 1, 2)]).serialize() == {"in": {"acquired": ["2018-01-02"]}}


def test_expressions_compare_by_meaning():
    assert (p.x < 1) == Range("x", {"lt": 1})
    assert (p.x < 1) != (p.x < 2)


def test_combining_with_a_non_expression_is_a_type_error():
    with pytest.raises(TypeError, match="property expressions"):
        (p.x < 1) & True  # noqa: B018
    with pytest.raises(TypeError, match="property expressions"):
        (p.x < 1) | {"eq": {"a": 1}}  # noqa: B018


def test_in_rejects_a_bare_string():
    with pytest.raises(TypeError, match="list"):
        p.key.in_("abc")


def test_empty_combinator_is_rejected():
    with pytest.raises(ValueError):
        And()


def test_properties_dunder_lookups_do_not_make_properties():
    assert not hasattr(properties, "__wrapped__")
    assert repr(p.key) == "Property('key')"


def test_query_expr_wraps_like_the_old_client():
    assert query_expr(None) is None
    assert query_expr([]) is None
    assert query_expr(p.x == 1) == {"and": [{"eq": {"x": 1}}]}
    assert query_expr([p.x == 1, {"like": {"k": "a%"}}]) == {
        "and": [{"eq": {"x": 1}}, {"like": {"k": "a%"}}]
    }
    with pytest.raises(TypeError):
        query_expr([1])


def test_rastercat_exposes_properties_lazily():
    assert rc.properties is properties

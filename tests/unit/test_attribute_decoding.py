"""Search rows decode image attributes with orjson, and fall back to the json module for what
orjson refuses: the values are those the json module gives, whatever a record holds."""

from __future__ import annotations

import json
import math

import pytest

from rastercat.store.sql.search import _loads

CASES = [
    '{"acquired": "2021-01-01T00:00:00Z", "cloud_fraction": 0.25, "n": 3, "tags": ["a"]}',
    '{"big": 123456789012345678901234567890}',  # beyond 64 bits: orjson refuses it
    '{"unsigned": 18446744073709551615, "negative": -9223372036854775809}',
    '{"nan": NaN, "inf": Infinity}',  # not JSON, but what json.dumps writes by default
    '{"unicode": "\\u00e9t\\u00e9", "nested": {"x": [1, 2.5e-7, null, true]}}',
]


@pytest.mark.parametrize("text", CASES)
def test_attributes_decode_as_the_json_module_does(text: str) -> None:
    got, want = _loads(text), json.loads(text)
    if "nan" in want:
        assert math.isnan(got.pop("nan")) and math.isnan(want.pop("nan"))
    assert got == want
    assert all(type(got[k]) is type(want[k]) for k in want)


def test_large_floats_written_as_floats_keep_their_values() -> None:
    """The fallback for big integers is a walk of the decoded value: floats of that magnitude
    (and infinities, which json.dumps writes by default) come out as the json module reads them."""
    text = '{"a": [[1e19, -2.5e30]], "b": {"c": 9.3e18}, "d": Infinity, "e": 12.5}'
    got, want = _loads(text), json.loads(text)
    assert got == want
    assert type(got["a"][0][0]) is float


def test_a_big_integer_beside_a_footprint_is_kept() -> None:
    """The footprint is not walked (shapely writes it: floats within +/-180), every other
    attribute is: an integer beyond 64 bits next to a geometry still comes out as an integer."""
    text = (
        '{"geometry": {"type": "Polygon", "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0],'
        ' [0.0, 0.0]]]}, "extra_properties": {"serial": 123456789012345678901234567890}}'
    )
    got = _loads(text)
    assert got == json.loads(text)
    assert type(got["extra_properties"]["serial"]) is int


@pytest.mark.parametrize("text", [
    '{"geometry": {"type": "Point", "coordinates": [1.0, 2.0]}, "serial": 123456789012345678901234567890}',
    '{"key": "k", "ids": [1, 2, 123456789012345678901234567890]}',
    '{"key": "k", "deep": [{"x": [-123456789012345678901234567890]}]}',
    '[1, 123456789012345678901234567890]',
    "123456789012345678901234567890",
])  # fmt: skip
def test_a_big_integer_anywhere_but_the_footprint_stays_an_integer(text: str) -> None:
    got, want = _loads(text), json.loads(text)
    assert got == want
    assert json.dumps(got) == json.dumps(want)  # ints stay ints (1e29 would print as a float)

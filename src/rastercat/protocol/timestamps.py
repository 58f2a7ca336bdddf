"""Dates as both protocols write them: RFC 3339 in UTC, naive meaning UTC.

Formatted by orjson, the same text as ``datetime.isoformat`` (microseconds only when not zero;
``tests/unit/test_timestamps.py`` holds the two equal over 200,000 values per form, odd years,
offsets and naive values included) in a fifth to a half of its time: a STAC page of 100 Items
writes 300 dates, and formatting them was a fifth of the time its worker thread held the GIL
(``py-spy --gil``, world x 1 week at 200,000 images: 1-2 us a date with ``isoformat``, 0.2-0.7 us
here).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

_Z = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
_OFFSET = orjson.OPT_NAIVE_UTC


def utc_text(value: datetime | float, *, z: bool) -> str:
    """``value`` (a datetime, or seconds since 1970) in UTC: ``...Z`` when ``z`` (STAC), else
    ``...+00:00`` (the 0.17 wire protocol)."""
    if type(value) is not datetime:
        if isinstance(value, datetime):  # a subclass of datetime: the standard library's way
            text = _utc(value).isoformat()
            return text.replace("+00:00", "Z") if z else text
        value = datetime.fromtimestamp(value, UTC)
    tz = value.tzinfo
    if tz is not UTC and tz is not None:
        value = value.astimezone(UTC)
    return orjson.dumps(value, option=_Z if z else _OFFSET)[1:-1].decode()


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)

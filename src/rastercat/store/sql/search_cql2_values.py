"""CQL2-JSON literals (timestamps, dates, intervals, geometries) and LIKE patterns, turned into
what the SQL compiler of :mod:`rastercat.store.sql.cql2` binds."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from rastercat.errors import InvalidInput


def fail(message: str) -> InvalidInput:
    return InvalidInput(f"filter: {message}", field="filter")


def parse_time(text: Any) -> datetime | date:
    if not isinstance(text, str):
        raise fail(f"{text!r} is not a date or timestamp")
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise fail(f"{text!r} is not a date or timestamp") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def temporal(value: Any) -> datetime | date | None:
    """A TIMESTAMP or DATE literal; None when ``value`` is not one."""
    if isinstance(value, dict) and len(value) == 1:
        if "timestamp" in value:
            return parse_time(value["timestamp"])
        if "date" in value:
            return parse_time(value["date"])
    return None


def seconds(value: datetime | date) -> float:
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return value.timestamp()


def span(value: Any) -> tuple[float | None, float | None]:
    """The [start, end] (seconds; None: open) a temporal literal covers: a day covers all of it."""
    if isinstance(value, dict) and "interval" in value:
        ends = value["interval"]
        if not isinstance(ends, list) or len(ends) != 2:
            raise fail("an interval has two ends")
        lo = None if ends[0] in ("..", None) else span(_as_literal(ends[0]))[0]
        hi = None if ends[1] in ("..", None) else span(_as_literal(ends[1]))[1]
        return lo, hi
    when = temporal(value)
    if isinstance(when, datetime):
        s = seconds(when)
        return s, s
    if isinstance(when, date):
        s = seconds(when)
        return s, s + 86400 - 1e-6
    raise fail(f"{value!r} is not a timestamp, a date or an interval")


def _as_literal(end: Any) -> Any:
    if isinstance(end, str):
        return {"date": end} if len(end) == 10 else {"timestamp": end}
    return end


def shape_of(value: Any) -> Any:
    from shapely.geometry import box, shape

    if isinstance(value, dict) and "bbox" in value:
        b = value["bbox"]
        if not isinstance(b, list) or len(b) not in (4, 6):
            raise fail("a bbox has 4 or 6 numbers")
        return box(b[0], b[1], b[2], b[3]) if len(b) == 4 else box(b[0], b[1], b[3], b[4])
    if isinstance(value, dict) and "type" in value:
        try:
            return shape(value)
        except Exception as exc:  # shapely raises several types for malformed GeoJSON
            raise fail(f"not a valid geometry: {exc}") from None
    raise fail("spatial functions compare 'geometry' with a geometry literal")


def _unescape(pattern: str) -> list[tuple[str, bool]]:
    """(char, is_literal) pairs of a CQL2 LIKE pattern (``%``, ``_``, ``\\`` escapes)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append((pattern[i + 1], True))
            i += 2
            continue
        out.append((ch, ch not in "%_"))
        i += 1
    return out


def glob_pattern(pattern: str) -> str:
    parts = []
    for ch, literal in _unescape(pattern):
        if not literal:
            parts.append("*" if ch == "%" else "?")
        elif ch in "*?[":
            parts.append(f"[{ch}]")
        else:
            parts.append(ch)
    return "".join(parts)


def like_pattern(pattern: str) -> str:
    parts = []
    for ch, literal in _unescape(pattern):
        if literal and ch in "%_\\":
            parts.append("\\" + ch)
        else:
            parts.append(ch)
    return "".join(parts)

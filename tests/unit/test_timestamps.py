"""Dates written by orjson are the text ``datetime.isoformat`` writes, in both protocols' forms."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rastercat.protocol.dl017.documents import iso as dl_iso
from rastercat.protocol.stac.items import iso as stac_iso
from rastercat.protocol.timestamps import utc_text


def reference(value: datetime | float, z: bool) -> str:
    """The standard library's way (what both protocols wrote before)."""
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    text = value.isoformat()
    return text.replace("+00:00", "Z") if z else text


class Moment(datetime):
    """A subclass of datetime (as some libraries hand out)."""


def values(n: int) -> list[datetime | float]:
    rng = random.Random(16)
    out: list[datetime | float] = [
        datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59, 999_999),
        datetime(999, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC),
        datetime(2020, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
        datetime(2020, 3, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))),  # the day before in UTC
        Moment(2021, 6, 1, 12, tzinfo=UTC), Moment(2021, 6, 1, 12),
        0, 0.0, 1e9, 1_500_000_000.5, -1.5, 2**31,
    ]  # fmt: skip
    for _ in range(n):
        ts = round(rng.uniform(-2e9, 4e9), rng.choice([0, 3, 6]))
        d = datetime.fromtimestamp(ts, UTC)
        offset = timezone(timedelta(minutes=rng.randint(-12 * 60, 14 * 60)))
        out += [ts, d, d.replace(tzinfo=None), d.astimezone(offset)]
    return out


@pytest.mark.parametrize("z", [True, False], ids=["stac", "dl017"])
def test_the_same_text_as_isoformat(z: bool) -> None:
    mismatched = [
        (v, utc_text(v, z=z), reference(v, z)) for v in values(50_000)
        if utc_text(v, z=z) != reference(v, z)
    ]  # fmt: skip
    assert not mismatched, mismatched[:5]


def test_the_protocols_forms() -> None:
    d = datetime(2017, 7, 14, 2, 40, 0, 123_456, tzinfo=UTC)
    assert stac_iso(d) == "2017-07-14T02:40:00.123456Z"
    assert dl_iso(d) == "2017-07-14T02:40:00.123456+00:00"
    assert stac_iso(datetime(2017, 7, 14)) == "2017-07-14T00:00:00Z"  # naive: UTC
    assert dl_iso(datetime(2017, 7, 14, 4, tzinfo=timezone(timedelta(hours=2)))) == (
        "2017-07-14T02:00:00+00:00"
    )
    assert stac_iso(1_500_000_000) == "2017-07-14T02:40:00Z"
    assert stac_iso(None) is None and dl_iso(None) is None

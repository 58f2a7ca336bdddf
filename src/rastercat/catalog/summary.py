"""Summaries of search results (protocol §3.4): counts, bytes and pixels, per date interval or product."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from rastercat.errors import InvalidInput
from rastercat.store.read_ports import Fact


def row_facts(rows: Iterable[dict[str, Any]], date_field: str) -> Iterator[Fact]:
    """Facts of full image rows (the path with checks only Python can make)."""
    for r in rows:
        value = r["attrs"].get(date_field)
        when = None
        if value:
            when = datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
        yield r["product_id"], when, 1, _bytes(r), _pixels(r)


def time_unit(body: dict[str, Any]) -> str | None:
    """The unit of time a summary body groups by (``interval``, or its old name ``part``); None
    for no interval or per product. 400 naming ``interval`` for anything else."""
    interval = body.get("interval") or body.get("part")
    if interval is not None and not isinstance(interval, str):
        raise InvalidInput("'interval' must be a string", field="interval")
    if not interval or interval == "product":
        return None
    unit = _TRUNC.get(interval)
    if unit is None:
        raise InvalidInput(
            "'interval' must be one of year, quarter, month, week, day, hour, minute or product",
            field="interval",
        )
    return unit


def summarize(facts: Iterable[Fact], body: dict[str, Any]) -> dict[str, Any]:
    """One pass over the facts of the matching images (streamed: memory does not grow with
    their number). A fact's date may already be the start of its interval (the database
    grouped them): finding the start of a start changes nothing."""
    interval = body.get("interval") or body.get("part")
    unit = time_unit(body)
    with_pixels = bool(body.get("pixels"))
    total = {"count": 0, "bytes": 0, "pixels": 0}
    products: dict[str, dict[str, int]] = {}
    buckets: dict[datetime, dict[str, int]] = {}
    for product_id, when, n, size, pix in facts:
        accumulators = [total, products.setdefault(product_id, dict.fromkeys(total, 0))]
        if unit is not None and when is not None:
            bucket = _bucket(datetime.fromtimestamp(when, UTC), unit)
            accumulators.append(buckets.setdefault(bucket, dict.fromkeys(total, 0)))
        for acc in accumulators:
            acc["count"] += n
            acc["bytes"] += size
            acc["pixels"] += pix
    out: dict[str, Any] = {
        "count": total["count"],
        "bytes": total["bytes"],
        "products": sorted(products),
    }
    if with_pixels:
        out["pixels"] = total["pixels"]
    if interval == "product":
        out["items"] = [
            {"product": k, "count": v["count"], "bytes": v["bytes"],
             **({"pixels": v["pixels"]} if with_pixels else {})}
            for k, v in sorted(products.items())
        ]  # fmt: skip
    elif unit is not None:
        out["items"] = [
            {"date": k.replace(tzinfo=None).isoformat(), "timestamp": int(k.timestamp()),
             "count": v["count"], "bytes": v["bytes"],
             **({"pixels": v["pixels"]} if with_pixels else {})}
            for k, v in sorted(buckets.items())
        ]  # fmt: skip
    return out


def _bytes(row: dict[str, Any]) -> int:
    return int(sum(x for x in (row["attrs"].get("file_sizes") or []) if isinstance(x, int)))


def _pixels(row: dict[str, Any]) -> int:
    size = row["attrs"].get("raster_size") or [0, 0]
    return int(size[0]) * int(size[1]) * max(1, len(row.get("band_names") or []))


_TRUNC = {
    "year": "year", "y": "year", "quarter": "quarter", "month": "month", "M": "month",
    "week": "week", "q": "week", "day": "day", "d": "day", "hour": "hour", "h": "hour",
    "minute": "minute", "m": "minute",
}  # fmt: skip


def _bucket(dt: datetime, unit: str) -> datetime:
    from datetime import timedelta

    if unit == "year":
        return dt.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "quarter":
        return dt.replace(
            month=(dt.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0, microsecond=0
        )
    if unit == "month":
        return dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=day.weekday())
    if unit == "day":
        return dt.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "hour":
        return dt.replace(minute=0, second=0, microsecond=0)
    return dt.replace(second=0, microsecond=0)

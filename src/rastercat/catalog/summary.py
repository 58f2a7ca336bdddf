"""Summaries of search results (protocol §3.4): counts, bytes and pixels, per date interval or product."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from rastercat.errors import InvalidInput


def summarize(rows: list[dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
    interval = body.get("interval") or body.get("part")
    out: dict[str, Any] = {
        "count": len(rows),
        "bytes": sum(_bytes(r) for r in rows),
        "products": sorted({r["product_id"] for r in rows}),
    }
    if body.get("pixels"):
        out["pixels"] = sum(_pixels(r) for r in rows)
    if interval:
        out["items"] = _histogram(
            rows, interval, bool(body.get("pixels")), body.get("date") or "acquired"
        )
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


def _histogram(
    rows: list[dict[str, Any]], interval: str, pixels: bool, date_field: str
) -> list[dict]:
    if interval == "product":
        counts: Counter[str] = Counter()
        sizes: Counter[str] = Counter()
        pix: Counter[str] = Counter()
        for r in rows:
            counts[r["product_id"]] += 1
            sizes[r["product_id"]] += _bytes(r)
            pix[r["product_id"]] += _pixels(r)
        return [
            {
                "product": k,
                "count": counts[k],
                "bytes": sizes[k],
                **({"pixels": pix[k]} if pixels else {}),
            }
            for k in sorted(counts)
        ]
    unit = _TRUNC.get(interval)
    if unit is None:
        raise InvalidInput(
            "'interval' must be one of year, quarter, month, week, day, hour, minute or product",
            field="interval",
        )
    buckets: dict[datetime, dict[str, int]] = {}
    for r in rows:
        value = r["attrs"].get(date_field)
        if not value:
            continue
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
        b = buckets.setdefault(_bucket(dt, unit), {"count": 0, "bytes": 0, "pixels": 0})
        b["count"] += 1
        b["bytes"] += _bytes(r)
        b["pixels"] += _pixels(r)
    return [
        {
            "date": k.replace(tzinfo=None).isoformat(),
            "timestamp": int(k.timestamp()),
            "count": v["count"],
            "bytes": v["bytes"],
            **({"pixels": v["pixels"]} if pixels else {}),
        }  # fmt: skip
        for k, v in sorted(buckets.items())
    ]

"""The facts a summary needs, computed by the database for searches it can filter on its own.

A search whose every condition is SQL (products, acquisition dates, and the caller's read
permission on each image) needs no image row in Python: the database counts and sums the images per
product and interval of time, and :func:`rastercat.catalog.summary.summarize` adds the groups. The
read permission is the SQL form of the read rule (:func:`rastercat.store.sql.access.readable_clause`). The
same numbers as the Python path (``row_facts``), checked against it on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from rastercat.store.read_ports import Fact, Reader
from rastercat.store.sql.access import readable_clause
from rastercat.store.sql.repo import Repo, t

_SQLITE = {
    # Integers only, as the Python path sums them (JSON floats are left out).
    "bytes": "(SELECT COALESCE(SUM(value), 0) FROM json_each(images.attrs, '$.file_sizes')"
    " WHERE type = 'integer')",
    "pixels": "(COALESCE(CAST(json_extract(images.attrs, '$.raster_size[0]') AS INTEGER), 0)"
    " * COALESCE(CAST(json_extract(images.attrs, '$.raster_size[1]') AS INTEGER), 0)"
    " * MAX(1, COALESCE(json_array_length(images.band_names), 0)))",
}
_POSTGRES = {
    "bytes": "(SELECT COALESCE(SUM((v #>> '{}')::numeric), 0) FROM json_array_elements("
    "CASE WHEN json_typeof(images.attrs -> 'file_sizes') = 'array' THEN images.attrs -> "
    "'file_sizes' ELSE '[]'::json END) AS v WHERE (v #>> '{}') ~ '^-?[0-9]+$')",
    "pixels": "(COALESCE((images.attrs -> 'raster_size' ->> 0)::numeric::bigint, 0)"
    " * COALESCE((images.attrs -> 'raster_size' ->> 1)::numeric::bigint, 0)"
    " * GREATEST(1, COALESCE(json_array_length(images.band_names), 0)))",
}


_SECOND = (
    "(CAST(images.acquired AS INTEGER) - (images.acquired < CAST(images.acquired AS INTEGER)))"
)
"""The acquisition time floored to its second: SQLite's date functions round to milliseconds,
which moved 23:59:59.9999 on 31 December into the next year."""
_SQLITE_UNITS = {
    "year": "strftime('%Y-01-01', {t}, 'unixepoch')",
    "quarter": "printf('%s-%02d-01', strftime('%Y', {t}, 'unixepoch'),"
    " (CAST(strftime('%m', {t}, 'unixepoch') AS INTEGER) - 1) / 3 * 3 + 1)",
    "month": "strftime('%Y-%m-01', {t}, 'unixepoch')",
    # The Monday on or before the day ('weekday 0': the next Sunday, or the day itself).
    "week": "date({t}, 'unixepoch', 'weekday 0', '-6 days')",
    "day": "date({t}, 'unixepoch')",
    "hour": "strftime('%Y-%m-%d %H:00:00', {t}, 'unixepoch')",
    "minute": "strftime('%Y-%m-%d %H:%M:00', {t}, 'unixepoch')",
}
"""The start of each unit of time, as SQLite's date functions write it (UTC)."""


def _bucket(unit: str, dialect: str) -> Any:
    """The start of the image's interval, in epoch seconds (NULL without a date): the same
    instants as :func:`rastercat.catalog.summary._bucket` (ISO weeks, from Monday). ``unit``
    goes into the SQL text: only the known names are taken."""
    if unit not in _SQLITE_UNITS:
        raise ValueError(f"not a unit of time: {unit!r}")
    if dialect == "postgresql":
        start = f"date_trunc('{unit}', to_timestamp(floor(images.acquired)) AT TIME ZONE 'UTC')"
        return sa.literal_column(f"CAST(EXTRACT(EPOCH FROM {start}) AS BIGINT)")
    start = _SQLITE_UNITS[unit].format(t=_SECOND)
    return sa.literal_column(f"CAST(strftime('%s', {start}) AS INTEGER)")


def sql_facts(
    repo: Repo, p: Reader, clauses: list[Any], unit: str | None, pixels: bool = True
) -> Iterator[Fact]:
    """Facts of the images matching ``clauses`` that ``p`` may read (its products already
    narrowed by the caller), summed by the database per product and ``unit`` of time: a summary
    of a million images sends a few rows, not a million. Pixels are counted only when asked for
    (``pixels``; else 0): reading them out of each image's JSON was as much work again as its
    sizes. A 1M-image summary by year went from 14 s to 5 s on SQLite, 21 s to 4 s on PostGIS."""
    sql = _POSTGRES if repo.dialect == "postgresql" else _SQLITE
    where = list(clauses)
    if not p.is_admin:
        where.append(readable_clause(p.principals, p.is_admin, t.images, repo.dialect))
    when = sa.null() if unit is None else _bucket(unit, repo.dialect)
    keys = [t.images.c.product_id, when.label("bucket")]
    stmt = (
        sa.select(
            *keys,
            sa.func.count(),
            sa.func.sum(sa.literal_column(sql["bytes"])),
            sa.func.sum(sa.literal_column(sql["pixels"])) if pixels else sa.literal(0),
        )
        .where(*where)
        .group_by(t.images.c.product_id, sa.literal_column("bucket"))
    )
    with repo.read() as conn:
        for row in conn.execute(stmt):
            product_id, bucket, n, size, pixels = tuple(row)
            yield product_id, bucket, int(n), int(size or 0), int(pixels or 0)

"""The facts a summary needs, computed by the database for searches it can filter on its own.

A search whose every condition is SQL (products, acquisition dates, and the caller's read
permission on each image) needs no image row in Python: the database gives, per image, the product
id, the date and the two sums, and :func:`rastercat.catalog.summary.summarize` counts them. The
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


def sql_facts(repo: Repo, p: Reader, clauses: list[Any]) -> Iterator[Fact]:
    """Facts of the images matching ``clauses`` that ``p`` may read (its products already
    narrowed by the caller)."""
    sql = _POSTGRES if repo.dialect == "postgresql" else _SQLITE
    where = list(clauses)
    if not p.is_admin:
        where.append(readable_clause(p.principals, p.is_admin, t.images, repo.dialect))
    stmt = sa.select(
        t.images.c.product_id,
        t.images.c.acquired,
        sa.literal_column(sql["bytes"]),
        sa.literal_column(sql["pixels"]),
    ).where(*where)
    with repo.read() as conn:
        result = conn.execution_options(stream_results=True, yield_per=5000).execute(stmt)
        for product_id, acquired, size, pixels in result:
            yield product_id, acquired, int(size or 0), int(pixels or 0)

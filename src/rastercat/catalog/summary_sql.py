"""The facts a summary needs, computed by the database for searches it can filter on its own.

A search whose every condition is SQL (products, acquisition dates, and the caller's read
permission on each image) needs no image row in Python: the database gives, per image, the product
id, the date and the two sums, and :func:`rastercat.catalog.summary.summarize` counts them. The
same numbers as the Python path (``row_facts``), checked against it on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa

from rastercat.catalog.principal import Principal
from rastercat.catalog.summary import Fact
from rastercat.store.sql.repo import Repo, t

_SQLITE = {
    # Integers only, as the Python path sums them (JSON floats are left out).
    "bytes": "(SELECT COALESCE(SUM(value), 0) FROM json_each(images.attrs, '$.file_sizes')"
    " WHERE type = 'integer')",
    "pixels": "(COALESCE(CAST(json_extract(images.attrs, '$.raster_size[0]') AS INTEGER), 0)"
    " * COALESCE(CAST(json_extract(images.attrs, '$.raster_size[1]') AS INTEGER), 0)"
    " * MAX(1, COALESCE(json_array_length(images.band_names), 0)))",
    "member": "EXISTS (SELECT 1 FROM json_each(images.{acl}) WHERE value IN ({names}))",
}
_POSTGRES = {
    "bytes": "(SELECT COALESCE(SUM((v #>> '{}')::numeric), 0) FROM json_array_elements("
    "CASE WHEN json_typeof(images.attrs -> 'file_sizes') = 'array' THEN images.attrs -> "
    "'file_sizes' ELSE '[]'::json END) AS v WHERE (v #>> '{}') ~ '^-?[0-9]+$')",
    "pixels": "(COALESCE((images.attrs -> 'raster_size' ->> 0)::numeric::bigint, 0)"
    " * COALESCE((images.attrs -> 'raster_size' ->> 1)::numeric::bigint, 0)"
    " * GREATEST(1, COALESCE(json_array_length(images.band_names), 0)))",
    "member": "EXISTS (SELECT 1 FROM json_array_elements_text(images.{acl}) AS m(value)"
    " WHERE m.value IN ({names}))",
}


def sql_facts(repo: Repo, p: Principal, clauses: list[Any]) -> Iterator[Fact]:
    """Facts of the images matching ``clauses`` that ``p`` may read (its products already
    narrowed by the caller)."""
    sql = _POSTGRES if repo.dialect == "postgresql" else _SQLITE
    where = list(clauses)
    if not p.is_admin:
        names = sorted(p.principals)
        checks = []
        for acl in ("owners", "readers", "writers"):
            params = {f"{acl}{i}": name for i, name in enumerate(names)}
            marks = ", ".join(f":{k}" for k in params) or "NULL"
            checks.append(sa.text(sql["member"].format(acl=acl, names=marks)).bindparams(**params))
        where.append(sa.or_(*checks))
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

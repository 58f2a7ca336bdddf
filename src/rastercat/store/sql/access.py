"""The SQL form of the read rule of :mod:`rastercat.catalog.access`: a WHERE clause keeping the
rows (products, bands, images) a principal may read, so the database can filter and count them.

A row is readable by an admin, or when any of the caller's principal names is in its ``owners``,
``readers`` or ``writers`` JSON list. ``tests/permissions/test_access_rule.py`` holds this equal to
the Python form for every role on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

ACL_COLUMNS = ("owners", "readers", "writers")


def _member(column: Any, names: list[str], dialect: str) -> Any:
    """Whether the JSON list in ``column`` holds one of ``names``."""
    if dialect == "postgresql":
        items = sa.func.json_array_elements_text(column).table_valued("value")
    else:
        items = sa.func.json_each(column).table_valued("value")
    return sa.exists().where(items.c.value.in_(names))


def readable_clause(
    principals: Iterable[str], is_admin: bool, table: sa.Table, dialect: str
) -> Any:
    """Rows of ``table`` (with ``owners``, ``readers`` and ``writers`` columns) that a caller
    answering to ``principals`` may read; every row for an admin."""
    if is_admin:
        return sa.true()
    names = sorted(principals)
    if not names:
        return sa.false()
    return sa.or_(*(_member(table.c[acl], names, dialect) for acl in ACL_COLUMNS))

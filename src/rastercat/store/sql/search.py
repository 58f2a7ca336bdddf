"""The SQL of the Metadata service's reads: products, bands, images by id, and searches (a filter
of plain values turned into SQL, date keyset pages, property and random orders, the choice between
the spatial and the date index), implementing :class:`rastercat.store.read_ports.CatalogReads`.

Measured at 1M images (a 20-degree box over a month, ~60 rows a search): decoding the five JSON
columns of each row through SQLAlchemy (SQLite) or psycopg (PostgreSQL) took ~40-50% of a search's
CPU time; building each row's dict through ``row._mapping`` was as costly on SQLite: search rows
are read as text and decoded here (``search_statements.image_columns``, :func:`dicts`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache, lru_cache
from typing import Any

import orjson
import sqlalchemy as sa

from rastercat.store.read_ports import (
    CompiledFilter,
    Fact,
    ImageFilter,
    ImageOrder,
    Position,
    ProductAcls,
    Reader,
    Row,
    StaleSnapshot,
)
from rastercat.store.sql.engine import BINARY_ROWS
from rastercat.store.sql.guards import confirm, guard_condition, guard_values
from rastercat.store.sql.repo import PRODUCT_VERSION, Repo, t
from rastercat.store.sql.search_sort import order_at_random, order_by_property
from rastercat.store.sql.search_statements import (
    after_condition,
    bind_values,
    conditions,
    date_order,
    image_columns,
    literal_refs,
    plain,
    shape_key,
    statement,
)

_LISTS = ("owners", "readers", "writers", "band_names")
"""JSON columns of images that hold short lists, mostly the same few across a product's images."""


@lru_cache(maxsize=4096)
def _list(text: str) -> Any:
    return json.loads(text)


def _decode_list(text: str | None) -> Any:
    """A short JSON list, decoded once per distinct text; each row gets its own copy."""
    if text is None:
        return None
    value = _list(text)
    return list(value) if isinstance(value, list) else json.loads(text)


_EXACT = 2.0**63
"""Floats of this magnitude or more may be integers that orjson could not hold (beyond 64 bits)."""


def _exact(value: Any) -> bool:
    """Whether an orjson-decoded value holds no float of magnitude 2**63 or more: orjson turns an
    integer beyond 64 bits into such a float, where the json module keeps the integer. (A float
    written that large decodes the same either way; the check does not tell them apart.) A walk
    of the decoded value: a regular expression looking for runs of 19 digits in the text took ten
    times orjson's own time."""
    kind = type(value)
    if kind is float:
        return -_EXACT < value < _EXACT
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return True
    for item in value:
        kind = type(item)
        if kind is float:
            if not -_EXACT < item < _EXACT:
                return False
        elif (kind is list or kind is dict) and not _exact(item):
            return False
    return True


def _loads(text: str) -> Any:
    """orjson's decoder (a third of json's time on image attributes; the same values), or the
    standard one for what orjson refuses (``NaN``) or would change (integers beyond 64 bits)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    if type(value) is not dict:
        return value if _exact(value) else json.loads(text)
    # An image's attributes: the top level walked here (most values are strings and small
    # numbers: a call of _exact for each was two thirds of this function's time). Footprints
    # are written from shapely (floats within +/-180): ``geometry`` is not walked.
    for key, item in value.items():
        kind = type(item)
        if kind is float:
            if not -_EXACT < item < _EXACT:
                return json.loads(text)
        elif (kind is dict or kind is list) and key != "geometry" and not _exact(item):
            return json.loads(text)
    return value


def dicts(result: sa.CursorResult[Any], raw_json: bool) -> list[dict[str, Any]]:
    """Plain dicts of the rows (zip over the keys once: ``dict(row._mapping)`` rebuilds the key
    view for every row; ``fetchall`` rather than iterating, which fetches row by row: 0.08-0.2 ms
    less for a page of 111). ``raw_json``: the JSON columns came as text (:func:`image_columns`)."""
    keys = list(result.keys())
    rows = [dict(zip(keys, r, strict=True)) for r in result.fetchall()]
    if raw_json:
        for row in rows:
            attrs = row["attrs"]
            row["attrs"] = None if attrs is None else _loads(attrs)
            for k in _LISTS:
                row[k] = _decode_list(row[k])
    return rows


# property expressions ----------------------------------------------------------------------------
_SQL_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _number(element: Any, dialect: str) -> Any:
    """A JSON value as a float in SQL; NULL where it is not a number. PostgreSQL raises on casting
    a non-numeric string, so the cast sits behind a CASE (which, unlike AND, fixes the order)."""
    if dialect == "postgresql":
        return sa.case((sa.func.json_typeof(element) == "number", element.as_float()), else_=None)
    return element.as_float()


def sql_prefilter(expr: Any, attrs_column: Any, dialect: str = "sqlite") -> Any | None:
    """A SQL clause that keeps every image the property expression ``expr`` (the ``query_expr``
    grammar of :mod:`rastercat.catalog.query`) may accept (it may keep more), or None when nothing
    can be said in SQL. Only numeric ``range`` bounds are translated: they are the common case
    (``cloud_fraction < 0.5``) and their JSON comparison means the same on SQLite and PostgreSQL.
    The exact predicate still runs on every candidate."""
    if isinstance(expr, list):
        expr = {"and": expr}
    if not isinstance(expr, Mapping) or len(expr) != 1:
        return None
    (op,) = expr.keys()
    if op in ("and", "or") and isinstance(expr[op], list):
        parts = [sql_prefilter(e, attrs_column, dialect) for e in expr[op]]
        if op == "and":
            kept = [c for c in parts if c is not None]
            return sa.and_(*kept) if kept else None
        if not parts or any(c is None for c in parts):
            return None
        return sa.or_(*[c for c in parts if c is not None])
    if op != "range" or not isinstance(expr[op], Mapping) or len(expr[op]) != 1:
        return None
    ((prop, bounds),) = expr[op].items()
    if not isinstance(bounds, Mapping) or not bounds or set(bounds) - set(_SQL_OPS):
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in bounds.values()):
        return None
    # The property may sit on the image or in its extra_properties (as the catalog looks it up).
    paths = tuple(
        _number(element, dialect)
        for element in (attrs_column[str(prop)], attrs_column["extra_properties"][str(prop)])
    )
    alternatives = [sa.and_(*[_SQL_OPS[k](path, v) for k, v in bounds.items()]) for path in paths]
    return sa.or_(*alternatives)


def images_prefilter(expr: Any, dialect: str) -> Any | None:
    """:func:`sql_prefilter` on ``images.attrs``, built once per distinct expression: a viewer
    sends the same property filter with every pan, and building the JSON paths and CASEs took as
    long as running the query (PostGIS, 1M images)."""
    try:
        key = json.dumps(expr, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return sql_prefilter(expr, t.images.c.attrs, dialect)
    return _images_prefilter(key, dialect)


@lru_cache(maxsize=256)
def _images_prefilter(key: str, dialect: str) -> Any | None:
    return sql_prefilter(json.loads(key), t.images.c.attrs, dialect)


# searches ----------------------------------------------------------------------------------------
def after_clause(position: Position, desc: bool, dialect: str) -> Any:
    """Rows after ``position`` in (acquired, pk) order (:func:`after_condition`)."""
    acquired, pk = position
    return after_condition(acquired is None, desc, dialect, acquired, pk)


def order_clauses(order: ImageOrder, dialect: str) -> list[Any]:
    """ORDER BY clauses of a search order (ties by pk)."""
    if order.by_date:
        return date_order(order.desc)
    if order.seed is not None:
        return order_at_random(order.seed)
    return order_by_property(str(order.field), order.desc, dialect)


class SqlCatalogReads:
    """:class:`rastercat.store.read_ports.CatalogReads` over a :class:`Repo`."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo
        self._acls: ProductAcls | None = None

    @property
    def dialect(self) -> str:
        return self.repo.dialect

    # products & bands ----------------------------------------------------------------------------
    def products(self, ids: Sequence[str] | None = None) -> list[Row]:
        where = [] if ids is None else [t.products.c.id.in_(list(ids))]
        return self.repo.all(t.products, *where, order_by=[t.products.c.id])

    def product_acls(self) -> ProductAcls:
        """Read again only when the products' version (migration 0007) moved on: the version
        and the rows come from one snapshot, so a cached list is exactly what a search reading
        the same version would read."""
        with self.repo.read() as conn:
            facts = self.repo.snapshot_facts(conn)
            version = None if facts is None else facts.get(PRODUCT_VERSION)
            if version is None:  # not noted by this snapshot's authentication
                version = int(conn.execute(_product_epoch()).scalar_one())
            cached = self._acls
            if cached is not None and cached.version == version:
                return cached
            if self.repo.guard(conn) is not None:
                # Rows read here would not be checked against the version: read them afresh.
                raise StaleSnapshot(f"no product ACLs kept at version {version}")
            rows = tuple(dict(r._mapping) for r in conn.execute(_product_acls()))
        acls = self._acls = ProductAcls(version, rows)
        return acls

    def product(self, pid: str) -> Row | None:
        return self.repo.one(t.products, id=pid)

    def bands_of(self, product_uids: Sequence[str]) -> list[Row]:
        b = t.bands
        return self.repo.all(b, b.c.product_uid.in_(list(product_uids)), order_by=[b.c.pk])

    def bands_with_product_acl(
        self, *, product_ids: Sequence[str] | None = None, band_id: str | None = None
    ) -> list[Row]:
        clauses: list[Any] = []
        if product_ids is not None:
            clauses.append(t.bands.c.product_id.in_(list(product_ids)))
        if band_id is not None:
            clauses.append(t.bands.c.id == band_id)
        stmt = (
            sa.select(t.bands, *_product_acl())
            .select_from(t.bands.join(t.products, t.bands.c.product_uid == t.products.c.uid))
            .where(*clauses)
            .order_by(t.bands.c.pk)
        )
        with self.repo.read() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    # images --------------------------------------------------------------------------------------
    def images_with_product_acl(self, ids: Sequence[str]) -> list[Row]:
        stmt = (
            sa.select(t.images, *_product_acl())
            .select_from(t.images.join(t.products, t.images.c.product_uid == t.products.c.uid))
            .where(t.images.c.id.in_(list(ids)))
        )
        with self.repo.read() as conn:
            return dicts(conn.execute(stmt), False)

    def clauses(
        self, where: ImageFilter, *, spatial_index: bool = True, months: bool = False
    ) -> list[Any]:
        """The SQL conditions of a filter (``spatial_index=False``: the area tested on each row's
        own bbox columns, for a walk of the date index; ``months``: the area through the months'
        index, ``repo.months_pay``)."""
        area = None
        if where.area is not None:
            a = where.area
            area = self.repo.spatial_clause(
                a.bbox, a.start, a.end, spatial_index=spatial_index, months=months
            )
        prefilter = None
        if where.attrs is not None:
            prefilter = images_prefilter(where.attrs, self.dialect)
        return conditions(where, literal_refs(where), area, prefilter, months)

    def image_batches(
        self,
        where: ImageFilter,
        order: ImageOrder,
        sizes: Iterator[int],
        *,
        after: Position | None = None,
        page: float = float("inf"),
    ) -> Iterator[list[Row]]:
        """Batches of image rows (see the protocol). In date order batches continue from the last
        row read (keyset), so reading far into the results costs no more per row than reading
        the start; other orders page by offset."""
        keyset = order.by_date
        prebuilt = keyset and plain(where)  # a statement built once, the values bound
        order_by = order_clauses(order, self.dialect)
        clauses: list[Any] | None = None
        walk: bool | None = None
        months = False
        offset = 0
        for size in sizes:
            with self.repo.read() as conn:
                guard = self.repo.guard(conn)
                if walk is None:
                    # In date order the first rows may come cheaper from the date index than from
                    # the spatial one (a large area over a short window); the same rows either
                    # way, decided once.
                    a = where.area
                    walk = bool(
                        keyset
                        and a is not None
                        and self.repo.date_index_pays(conn, a.bbox, a.start, a.end, page)
                    )
                    months = bool(
                        a is not None and not walk and self.repo.months_pay(a.bbox, a.start, a.end)
                    )
                if prebuilt:
                    key = shape_key(where, order.desc, walk, after, guard is not None, months)
                    values = bind_values(where, after, walk, self.dialect, size, months)
                    if guard is not None:
                        values.update(guard_values(guard))
                    rows = dicts(conn.execute(statement(key, self.dialect), values), True)
                else:
                    if clauses is None:
                        clauses = self.clauses(where, spatial_index=not walk, months=months)
                    found = clauses
                    if keyset and after is not None:
                        found = [*found, after_clause(after, order.desc, self.dialect)]
                    if guard is not None:
                        found = [*found, guard_condition(guard.users, guard.products)]
                    stmt = (
                        sa.select(*image_columns())
                        .select_from(t.images)
                        .where(*found)
                        .order_by(*order_by)
                        .limit(size)
                        .offset(0 if keyset else offset)
                        .execution_options(**{BINARY_ROWS: True})
                    )
                    rows = dicts(conn.execute(stmt), True)
                if guard is not None and not rows:
                    confirm(conn, guard)  # nothing found, or the guard: StaleSnapshot
            yield rows
            if len(rows) < size:
                return
            if keyset:
                after = (rows[-1]["acquired"], rows[-1]["pk"])
            offset += size

    def summary_facts(
        self, where: ImageFilter, reader: Reader, unit: str | None, pixels: bool = True
    ) -> Iterator[Fact]:
        from rastercat.store.sql.summary import sql_facts

        return sql_facts(self.repo, reader, self.clauses(where), unit, pixels)

    def compile_filter(self, node: Any) -> CompiledFilter:
        from rastercat.store.sql.cql2 import compile_filter

        return compile_filter(node, self.repo)


@cache
def _product_epoch() -> sa.Select[Any]:
    return sa.select(t.product_epoch.c.version).where(t.product_epoch.c.id == 1)


@cache
def _product_acls() -> sa.Select[Any]:
    """Every product's id, uid and ACL (each search reads them): built once."""
    p = t.products.c
    return sa.select(p.id, p.uid, p.owners, p.readers, p.writers).order_by(p.id)


def _product_acl() -> list[Any]:
    p = t.products.c
    return [p.owners.label("p_owners"), p.readers.label("p_readers"), p.writers.label("p_writers")]

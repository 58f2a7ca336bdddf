"""SQL repository of the catalog: rows in, rows out (plain dicts); no permissions, no HTTP.

Driver errors are translated to the domain tree in exactly one place, :func:`translate_errors`.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa

from rastercat.errors import Conflict, InvalidInput, StoreError
from rastercat.store.read_ports import Versions
from rastercat.store.sql import tables as t
from rastercat.store.sql.areas import (
    MONTH,
    RTREE_DAY,
    months_pay,
    rtree_time,
    spatial_condition,
    spatial_values,
)
from rastercat.store.sql.engine import READ_ONLY
from rastercat.store.sql.late_ends import LateEnds

STATS_TTL = 10.0
"""Seconds the catalog's size and date range are reused by :meth:`Repo.date_index_pays`."""

SearchPlan = Literal["auto", "spatial", "date"]


def utcnow() -> datetime:
    return datetime.now(UTC)


@contextlib.contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise Conflict("an object with this id already exists") from exc
    except sa.exc.DataError as exc:
        # PostgreSQL enforces VARCHAR lengths and number ranges that SQLite ignores.
        raise InvalidInput(f"a value does not fit the catalog: {exc.orig}") from exc
    except sa.exc.OperationalError as exc:
        raise StoreError(f"the catalog database failed: {exc.orig}") from exc


PRODUCT_VERSION = "product_version"
"""The products' version (migration 0007), as authentication notes it in a snapshot's facts."""
USER_VERSION = "user_version"
"""The users' version (migration 0008), as authentication notes it in a snapshot's facts."""
GUARD = "guard"
"""The :class:`Versions` a guarded snapshot's reads assume (:meth:`Repo.guarded`)."""


class _Snapshot(NamedTuple):
    conn: sa.Connection
    facts: dict[str, Any]


def _row(row: sa.Row[Any] | None) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


class Repo:
    """Thin data access over one engine. Every method runs in its own transaction unless a
    connection is passed in (the reading ones in a read transaction)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.search_plan: SearchPlan = "auto"
        """``auto``: :meth:`date_index_pays` chooses per search; ``spatial`` or ``date`` force one
        plan (for tests and benchmarks: both plans give the same results)."""
        self.month_index = True
        """Whether short windows may go through migration 0009's index (:meth:`months_pay`;
        ``False`` for tests and benchmarks that compare both ways)."""
        self._stats: tuple[float, tuple[Any, Any, Any]] | None = None
        self._read_options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name == "postgresql":
            # One snapshot for the whole transaction, as SQLite's WAL reads have (READ COMMITTED
            # takes one per statement); a transaction that only reads never fails to serialize.
            self._read_options["isolation_level"] = "REPEATABLE READ"
        self.late_ends = LateEnds()
        self._snapshot: contextvars.ContextVar[_Snapshot | None] = contextvars.ContextVar(
            f"rastercat_snapshot_{id(self)}", default=None
        )

    @contextlib.contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        """A transaction that may write (SQLite: ``BEGIN IMMEDIATE``, one writer at a time).
        Anything that reads and then writes must use this one: a read transaction that later
        writes fails with "database is locked" when another writer got there first."""
        with translate_errors(), self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A transaction that only reads: one consistent snapshot that neither waits for writers
        nor holds them up (SQLite WAL: deferred ``BEGIN``, ``query_only``). Long reads (streamed
        summaries, authentication on every request) belong here. Inside :meth:`snapshot`, the
        snapshot's own transaction."""
        shared = self._snapshot.get()
        if shared is not None:
            yield shared.conn
            return
        with translate_errors(), self.engine.connect() as conn:
            conn.execution_options(**self._read_options)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def snapshot(self, *, end_later: bool = False) -> Iterator[None]:
        """Every :meth:`read` of this thread (context) until the block ends is one read
        transaction: a request that authenticates, reads the product ACLs and searches takes one
        connection from the pool and sees one state of the catalog. On PostgreSQL each transaction
        of its own cost a pool ping, a ``BEGIN`` and a ``ROLLBACK`` (three round trips); a search
        took three. Writes (:meth:`tx`) still take their own connection.

        ``end_later``: on PostgreSQL, when the block ends without an error, the transaction's end
        (its ``COMMIT`` round trip, and the connection's return to the pool) is left to
        :class:`LateEnds` instead of being waited for: a request that only read answers without
        it. An error in the block ends the transaction at once; on SQLite, where ending a read
        costs microseconds, it always ends at once."""
        if self._snapshot.get() is not None:
            yield
            return
        if not (end_later and self.dialect == "postgresql"):
            with self.read() as conn:
                token = self._snapshot.set(_Snapshot(conn, {}))
                try:
                    yield
                finally:
                    self._snapshot.reset(token)
            return
        stack = contextlib.ExitStack()
        token = self._snapshot.set(_Snapshot(stack.enter_context(self.read()), {}))
        try:
            yield
        except BaseException:
            self._snapshot.reset(token)
            if not stack.__exit__(*sys.exc_info()):
                raise
            return
        self._snapshot.reset(token)
        self.late_ends.submit(stack.close)

    @contextlib.contextmanager
    def guarded(self, versions: Versions) -> Iterator[None]:
        """Like :meth:`snapshot`, for reads that assume the catalog's users and products are at
        ``versions`` (a caller remembered with them): the search's statement checks them itself
        (:mod:`rastercat.store.sql.guards`), and a read that cannot check them raises
        :class:`StaleSnapshot`. On PostgreSQL no transaction is opened (no ``BEGIN`` nor
        ``COMMIT``: each statement is its own snapshot, and the guarded one holds the answer);
        on SQLite the usual read transaction, which costs microseconds."""
        if self._snapshot.get() is not None:
            raise RuntimeError("a guarded read cannot run inside another snapshot")
        with translate_errors(), self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn.execution_options(isolation_level="AUTOCOMMIT", **{READ_ONLY: True})
                ends: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
            else:
                conn.execution_options(**self._read_options)
                ends = conn.begin()
            with ends:
                facts = {PRODUCT_VERSION: versions.products, GUARD: versions}
                token = self._snapshot.set(_Snapshot(conn, facts))
                try:
                    yield
                finally:
                    self._snapshot.reset(token)

    def guard(self, conn: sa.Connection) -> Versions | None:
        """The versions ``conn``'s reads must check, when it is a guarded snapshot's."""
        facts = self.snapshot_facts(conn)
        return None if facts is None else facts.get(GUARD)

    def close(self) -> None:
        """Wait for the read transactions still ending (:meth:`snapshot`), then close the pool."""
        self.late_ends.close()
        self.engine.dispose()

    def snapshot_facts(self, conn: sa.Connection) -> dict[str, Any] | None:
        """What reads of the current :meth:`snapshot` noted for later reads of the same snapshot,
        when ``conn`` is that snapshot's connection (else ``None``: a write transaction's values
        are not the snapshot's). A value read once, in passing, need not cost another round trip:
        authentication notes the products' version (read in the same statement as the user), so
        a search's ACL check does not read it again, one round trip fewer per request."""
        shared = self._snapshot.get()
        return shared.facts if shared is not None and shared.conn is conn else None

    # generic helpers ---------------------------------------------------------------------
    def one(self, table: sa.Table, conn: sa.Connection | None = None, *,
            for_update: bool = False, **where: Any) -> dict | None:  # fmt: skip
        """The row matching ``where``; ``for_update`` locks it until the transaction ends (a
        read-then-write on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serializes writers)."""
        stmt = sa.select(table).where(*(table.c[k] == v for k, v in where.items()))
        if for_update:
            stmt = stmt.with_for_update()
        if conn is not None:
            return _row(conn.execute(stmt).first())
        if for_update:
            raise TypeError("for_update needs the connection of a write transaction")
        with self.read() as c:
            return _row(c.execute(stmt).first())

    def all(
        self,
        table: sa.Table,
        *clauses: Any,
        order_by: Sequence[Any] = (),
        limit: int | None = None,
        offset: int | None = None,
        conn: sa.Connection | None = None,
    ) -> list[dict[str, Any]]:
        stmt = sa.select(table).where(*clauses).order_by(*order_by)
        if limit is not None:
            stmt = stmt.limit(limit)
        if offset:
            stmt = stmt.offset(offset)
        if conn is not None:
            return [dict(r._mapping) for r in conn.execute(stmt)]
        with self.read() as c:
            return [dict(r._mapping) for r in c.execute(stmt)]

    def insert(self, table: sa.Table, values: dict[str, Any], conn: sa.Connection) -> int:
        result = conn.execute(sa.insert(table).values(**values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def update(self, table: sa.Table, pk: int, values: dict[str, Any], conn: sa.Connection) -> None:
        conn.execute(sa.update(table).where(table.c.pk == pk).values(**values))

    def delete(self, table: sa.Table, pk: int, conn: sa.Connection) -> None:
        conn.execute(sa.delete(table).where(table.c.pk == pk))

    def count(self, table: sa.Table, *clauses: Any, conn: sa.Connection | None = None) -> int:
        stmt = sa.select(sa.func.count()).select_from(table).where(*clauses)
        if conn is not None:
            return int(conn.execute(stmt).scalar_one())
        with self.read() as c:
            return int(c.execute(stmt).scalar_one())

    # spatial index ------------------------------------------------------------------------
    # SQLite: an R*Tree over (lon, lat, acquired) beside the table. PostgreSQL: a PostGIS footprint
    # column with a GiST index over it and the acquisition time (revisions 0002, 0004). Both are kept by index_image and read by
    # spatial_clause; other dialects fall back to the plain bbox columns.
    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def has_rtree(self) -> bool:
        return self.dialect == "sqlite"

    def index_image(
        self, conn: sa.Connection, pk: int, bbox: tuple | None, acquired: float | None
    ) -> None:
        if self.dialect == "postgresql":
            if bbox is None:
                conn.execute(
                    sa.text("UPDATE images SET footprint = NULL WHERE pk = :pk"), {"pk": pk}
                )
            else:
                conn.execute(
                    sa.text(
                        "UPDATE images SET footprint = ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326) "
                        "WHERE pk = :pk"
                    ),
                    {"pk": pk, "minx": bbox[0], "miny": bbox[1], "maxx": bbox[2], "maxy": bbox[3]},
                )
            return
        if not self.has_rtree:
            return
        conn.exec_driver_sql("DELETE FROM images_rtree WHERE pk = ?", (pk,))
        if bbox is None:
            return
        when = rtree_time(acquired)
        conn.exec_driver_sql(
            "INSERT INTO images_rtree (pk, minx, maxx, miny, maxy, mint, maxt) VALUES (?,?,?,?,?,?,?)",
            (pk, bbox[0], bbox[2], bbox[1], bbox[3], when, when),
        )

    def unindex_image(self, conn: sa.Connection, pk: int) -> None:
        # On PostgreSQL the footprint goes with the row itself.
        if self.has_rtree:
            conn.exec_driver_sql("DELETE FROM images_rtree WHERE pk = ?", (pk,))

    # batches --------------------------------------------------------------------------------
    def insert_rows(
        self, table: sa.Table, rows: Sequence[dict[str, Any]], conn: sa.Connection
    ) -> None:
        """Insert many rows at once (the driver's executemany: multi-row VALUES on PostgreSQL).
        No RETURNING: with it, SQLite fell back to one statement per row (10x slower)."""
        if rows:
            conn.execute(sa.insert(table), list(rows))

    def insert_images(self, conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert many new ``images`` rows and index them: :meth:`insert_rows` then
        :meth:`index_images`; on PostgreSQL one COPY that fills the footprint column as well
        (no UPDATE after the INSERT: see benchmarks/bench_bulk.py)."""
        if not rows:
            return
        if self.dialect == "postgresql":
            from rastercat.store.sql.write_copy import copy_rows

            copy_rows(conn, t.images, rows, footprint=True)
            return
        self.insert_rows(t.images, rows, conn)
        self.index_images(conn, [row["id"] for row in rows])

    def index_images(self, conn: sa.Connection, ids: Sequence[str]) -> None:
        """:meth:`index_image` for many new rows at once, found by image id, from their own bbox
        and acquired columns (one set-based statement per chunk instead of one per image)."""
        chunk = 5000  # well under SQLite's 32,766 bound parameters per statement
        for start in range(0, len(ids), chunk):
            params = {"ids": list(ids[start : start + chunk]), "day": RTREE_DAY}
            if self.dialect == "postgresql":
                stmt = sa.text(
                    "UPDATE images SET footprint = ST_MakeEnvelope(minx, miny, maxx, maxy, 4326) "
                    "WHERE id IN :ids AND minx IS NOT NULL"
                )
            elif self.has_rtree:
                stmt = sa.text(
                    "INSERT INTO images_rtree (pk, minx, maxx, miny, maxy, mint, maxt) "
                    "SELECT pk, minx, maxx, miny, maxy, COALESCE(acquired, 0) / :day, "
                    "COALESCE(acquired, 0) / :day FROM images WHERE id IN :ids AND minx IS NOT NULL"
                )
            else:
                return
            conn.execute(stmt.bindparams(sa.bindparam("ids", expanding=True)), params)

    def date_index_pays(
        self,
        conn: sa.Connection,
        bbox: tuple[float, float, float, float],
        lo: float | None,
        hi: float | None,
        page: float,
    ) -> bool:
        """Whether the first ``page`` matches of an area and date search, in date order, come
        cheaper by walking the date index (checking each row's bbox) than through the spatial index.

        The spatial index reads every image in the area and window, then sorts them: about
        ``N * f * w`` rows, with ``f`` the share of the catalog's images in the area and ``w`` the
        share in the window. The date index reads the window in order and stops once the page is
        full: about ``page / f`` rows (at most ``N * w``). A world map for a week at 1M images:
        ~1,900 rows against ~125 (SQLite: 9 ms against 1 ms); a 20-degree box for a month: ~60
        against ~20,000. ``f`` is the area's share of the globe: the estimate assumes images
        spread over the globe and over time, so a large area where a clustered catalog has no
        images costs a walk of the window (never a wrong answer: both plans give the same rows).
        """
        if self.search_plan != "auto":
            return self.search_plan == "date"
        minx, miny, maxx, maxy = bbox
        f = max(0.0, maxx - minx) * max(0.0, maxy - miny) / (360.0 * 180.0)
        if f <= 0.0:
            return False
        n, first, last = self._date_stats(conn)
        if not n or first is None or last is None:
            return False
        span = last - first
        lo_, hi_ = (
            max(first, -math.inf if lo is None else lo),
            min(last, math.inf if hi is None else hi),
        )
        w = 1.0 if span <= 0 else max(0.0, hi_ - lo_) / span
        in_window = n * w
        return min(page / f, in_window) < in_window * f

    def months_pay(
        self, bbox: tuple[float, float, float, float], lo: float | None, hi: float | None
    ) -> bool:
        """Whether a search of this area and window through the spatial index should go through
        the months' index instead (:func:`months_pay`)."""
        return self.month_index and months_pay(self.dialect, bbox, lo, hi)

    def _date_stats(self, conn: sa.Connection) -> tuple[Any, Any, Any]:
        """(about how many images, first and last acquisition time), remembered for a few
        seconds: three index look-ups, but a search's fixed cost is itself a few of them, and an
        estimate a little out of date only ever costs speed."""
        now = time.monotonic()
        cached = self._stats
        if cached is not None and now - cached[0] < STATS_TTL:
            return cached[1]
        stats = conn.execute(
            sa.select(
                sa.select(sa.func.max(t.images.c.pk)).scalar_subquery(),
                sa.select(sa.func.min(t.images.c.acquired)).scalar_subquery(),
                sa.select(sa.func.max(t.images.c.acquired)).scalar_subquery(),
            )
        ).one()
        self._stats = (now, tuple(stats))
        return self._stats[1]

    def spatial_clause(
        self,
        bbox: tuple[float, float, float, float],
        lo: float | None,
        hi: float | None,
        *,
        spatial_index: bool = True,
        months: bool = False,
    ) -> Any:
        """A WHERE clause on ``images`` selecting rows whose footprint bbox meets ``bbox``
        (minx, miny, maxx, maxy in lon/lat) and, where the index holds time too, whose acquisition
        time lies in [lo, hi] (None: unbounded). Callers still filter dates and exact geometry.
        ``spatial_index=False``: the same rows, by comparisons on each row's own bbox columns, for a
        plan that walks the date index instead (see :meth:`date_index_pays`). ``months``: through
        the months' index (:func:`months_pay`; the caller's date conditions must then not offer
        the date index to the planner: ``search_statements.conditions``)."""
        values = spatial_values(bbox, lo, hi, self.has_rtree, months)
        return spatial_condition(self.dialect, spatial_index, values, months)


__all__ = [
    "MONTH",
    "RTREE_DAY",
    "Repo",
    "SearchPlan",
    "rtree_time",
    "t",
    "translate_errors",
    "utcnow",
]

"""An area and acquisition window as SQL on ``images``: the SQLite R*Tree (with its time axis),
PostGIS's GiST indexes (footprint and time; month and envelope for short windows, migration 0009)
or each row's own bbox columns; the values to bind, and when the months' index pays."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from rastercat.store.sql import tables as t

RTREE_DAY = 86400.0
"""Seconds per unit of the R*Tree's time axis (revision 0003). The R*Tree splits its nodes by
area, so each axis must be on a comparable scale: with acquisition times in seconds, the time axis
(10 years = 3e8) dwarfed lon/lat (360 x 180) and nodes were split almost only by time. A small
area over years took 49 ms at 1M images, against 0.6 ms with days (benchmarks/bench_search.py)."""


def rtree_time(seconds: float | None) -> float:
    """An acquisition time (Unix seconds; None: unknown) on the R*Tree's time axis."""
    return (0.0 if seconds is None else seconds) / RTREE_DAY


SPATIAL_NAMES = ("qminx", "qminy", "qmaxx", "qmaxy")
"""Bind parameters of an area's box in :func:`spatial_condition` (plus ``qlo``, ``qhi`` for the
SQLite R*Tree's time axis)."""


def spatial_values(
    bbox: tuple[float, float, float, float],
    lo: float | None,
    hi: float | None,
    rtree: bool,
    months: bool = False,
) -> dict[str, float]:
    """The bind values of :func:`spatial_condition` for an area and acquisition window
    (``months``: through migration 0009's index, when :func:`months_pay`)."""
    values = dict(zip(SPATIAL_NAMES, (float(v) for v in bbox), strict=True))
    if rtree:
        # Stored times are rounded outwards to float32: never a false negative.
        values["qlo"] = -1e18 if lo is None else rtree_time(lo)
        values["qhi"] = 1e18 if hi is None else rtree_time(hi)
    if months and lo is not None and hi is not None:
        values["qfrom"], values["qto"] = float(lo), float(hi)
    return values


MONTH = 2629746.0
"""Seconds in an average Gregorian month (365.2425 / 12 days): the unit of migration 0009's index."""
MONTH_SQL = "2629746.0"
""":data:`MONTH` as written in the index's expression (a query must say it the same way)."""


def months_pay(dialect: str, bbox: tuple[float, float, float, float], lo: float | None,
               hi: float | None) -> bool:  # fmt: skip
    """Whether an area and window search on PostgreSQL reads fewer index pages through migration
    0009's index (months, then envelope) than through (footprint, acquired). Measured at 1M
    images (ms, that index against the other): a 20-degree box over 7 / 30 / 90 days 0.12 /
    0.18 / 0.35 against 0.60 / 0.66 / 0.81; 60 degrees over 30 days 1.3 against 4.8; a 0.2-degree
    box over 30 days 0.05 against 0.04, over 180 days 0.22 against 0.08; 5 degrees over 90 days
    0.11 against 0.13, over 180 days 0.20 against 0.15. So: windows of two months or less, or of
    four months or less over 25 square degrees or more."""
    if dialect != "postgresql" or lo is None or hi is None:
        return False
    days = (hi - lo) / 86400.0
    minx, miny, maxx, maxy = bbox
    area = max(0.0, maxx - minx) * max(0.0, maxy - miny)
    return days <= 62 or (days <= 125 and area >= 25)


def spatial_condition(
    dialect: str, spatial_index: bool, values: dict[str, Any] | None, months: bool = False
) -> Any:
    """The SQL of :meth:`Repo.spatial_clause`: with ``values`` (:func:`spatial_values`) bound, or
    with named placeholders to bind at execution (``None``: a statement built once and reused).
    ``months``: through migration 0009's index (PostgreSQL, :func:`months_pay`)."""

    def ref(name: str) -> Any:
        return sa.bindparam(name, type_=sa.Float) if values is None else values[name]

    def bound(text: str, names: tuple[str, ...]) -> Any:
        if values is None:
            return sa.text(text).bindparams(*(sa.bindparam(n, type_=sa.Float) for n in names))
        return sa.text(text).bindparams(**{n: values[n] for n in names})

    if spatial_index and dialect == "sqlite":
        return t.images.c.pk.in_(
            bound(
                "SELECT pk FROM images_rtree WHERE minx <= :qmaxx AND maxx >= :qminx "
                "AND miny <= :qmaxy AND maxy >= :qminy AND mint <= :qhi AND maxt >= :qlo",
                (*SPATIAL_NAMES, "qlo", "qhi"),
            )
        )
    if spatial_index and dialect == "postgresql" and months:
        # Migration 0009's index: the window's months, then the envelope (`&&` compares bboxes:
        # the envelope's is the footprint's). The month bounds are worked out by PostgreSQL from
        # the window itself, with the index's own arithmetic: no row of the window is missed.
        return bound(
            f"floor(images.acquired / {MONTH_SQL})::int4 BETWEEN floor(:qfrom / {MONTH_SQL})::int4"
            f" AND floor(:qto / {MONTH_SQL})::int4 AND ST_Envelope(images.footprint) &&"
            " ST_MakeEnvelope(:qminx, :qminy, :qmaxx, :qmaxy, 4326)",
            (*SPATIAL_NAMES, "qfrom", "qto"),
        )
    if spatial_index and dialect == "postgresql":
        # `&&` is the bbox-overlap operator the GiST index answers; the date range is a
        # separate clause on the acquired index, combined by the planner.
        return bound(
            "images.footprint && ST_MakeEnvelope(:qminx, :qminy, :qmaxx, :qmaxy, 4326)",
            SPATIAL_NAMES,
        )
    c = t.images.c
    return sa.and_(c.minx <= ref("qmaxx"), c.maxx >= ref("qminx"), c.miny <= ref("qmaxy"),
                   c.maxy >= ref("qminy"))  # fmt: skip

"""PostgreSQL's ``COPY ... FROM STDIN`` for batches of rows: one stream instead of multi-row
``INSERT`` statements, inside the caller's transaction (issue 15: bulk records on PostGIS).

Rows are written as SQLAlchemy would write them (JSON columns through ``json.dumps``, the engine's
serializer; NULL for a column a row leaves out), and driver errors are raised as SQLAlchemy's, so
:func:`~rastercat.store.sql.repo.translate_errors` turns them into the same domain errors as an
``INSERT`` would (a duplicate id: Conflict; a value too long for its column: InvalidInput).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

EWKB_POLYGON_SRID = 0x20000003
"""EWKB type of a Polygon with an SRID (PostGIS's extended WKB flag 0x20000000)."""

_ENVELOPE = struct.Struct("<BIIII10d")


def envelope_ewkb(minx: float, miny: float, maxx: float, maxy: float) -> str:
    """Hex EWKB of ``ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)``: the same ring, vertex for
    vertex (lower left, upper left, upper right, lower right, closed), with exact doubles."""
    return _ENVELOPE.pack(
        1, EWKB_POLYGON_SRID, 4326, 1, 5,
        minx, miny, minx, maxy, maxx, maxy, maxx, miny, minx, miny,
    ).hex()  # fmt: skip


def copy_rows(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    footprint: bool = False,
) -> None:
    """COPY ``rows`` (dicts with the keys of the first one) into ``table``. ``footprint``: also
    fill the PostGIS ``footprint`` column of ``images`` from each row's bbox columns (NULL
    without a bbox), as ``Repo.index_images`` does with an UPDATE."""
    import psycopg

    columns = list(rows[0])
    json_cols = {c for c in columns if isinstance(table.c[c].type, sa.JSON)}
    names = ", ".join(f'"{c}"' for c in columns) + (', "footprint"' if footprint else "")
    stmt = f'COPY "{table.name}" ({names}) FROM STDIN'
    dumps = json.dumps
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cur, cur.copy(stmt) as copy:
            for row in rows:
                # JSON columns as SQLAlchemy's JSON type binds them (None too: JSON null).
                values = [dumps(row.get(c)) if c in json_cols else row.get(c) for c in columns]
                if footprint:
                    minx = row.get("minx")
                    values.append(
                        None if minx is None
                        else envelope_ewkb(minx, row["miny"], row["maxx"], row["maxy"])
                    )  # fmt: skip
                copy.write_row(values)
    except psycopg.errors.IntegrityError as exc:
        raise sa.exc.IntegrityError(stmt, None, _as_insert(exc)) from exc
    except psycopg.errors.DataError as exc:
        raise sa.exc.DataError(stmt, None, _as_insert(exc)) from exc
    except psycopg.OperationalError as exc:
        raise sa.exc.OperationalError(stmt, None, _as_insert(exc)) from exc


def _as_insert(exc: Exception) -> Exception:
    """The driver error without the line COPY adds ("CONTEXT:  COPY images, line 3, ..."): the
    message an INSERT of the same rows gives, which error texts quote."""
    text = str(exc)
    cut = text.find("\nCONTEXT:  COPY ")
    return exc if cut < 0 else type(exc)(text[:cut])

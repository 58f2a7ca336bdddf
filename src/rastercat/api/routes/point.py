"""The point query of the raster API, mounted at ``/raster/v1``: the value of every band of the
images under one lon/lat point (what the viewer shows when the map is clicked).

The read runs in a worker thread once one of the server's read slots is free (``read_slots``,
bounded by ``limits.max_concurrent_reads``), off the event loop.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.api.state import AppState
from rastercat.catalog.point_query import DEFAULT_LIMIT
from rastercat.catalog.principal import Principal

router = APIRouter()


@router.get("/point")
async def point(
    state: StateDep,
    p: PrincipalDep,
    lon: Annotated[
        float, Query(ge=-180, le=180, allow_inf_nan=False, description="Longitude, WGS84 degrees.")
    ],
    lat: Annotated[
        float, Query(ge=-90, le=90, allow_inf_nan=False, description="Latitude, WGS84 degrees.")
    ],
    products: Annotated[list[str], Query(description="Product ids; repeat for several.")],
    start_datetime: str | None = None,
    end_datetime: str | None = None,
    limit: Annotated[int, Query(description="At most this many images, newest first.")] = (
        DEFAULT_LIMIT
    ),
) -> dict:
    """``{"data": [{"image_id", "product_id", "acquired", "values": {band: number or null}}]}``:
    the images of ``products`` under the point that the caller may read, newest first; a band's
    value is null where it is nodata or masked. Runs in one of the read slots, like every read
    of pixels."""
    found = await state.read_slots.run(
        _point, state, p, products, lon, lat, start_datetime, end_datetime, limit
    )
    return {"data": [v.to_dict() for v in found]}


def _point(
    state: AppState, p: Principal, products: list[str], lon: float, lat: float,
    start: str | None, end: str | None, limit: int,
) -> list[Any]:  # fmt: skip
    return list(state.points.query(p, products, lon, lat, start=start, end=end, limit=limit))

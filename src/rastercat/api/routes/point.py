"""The point query of the raster API, mounted at ``/raster/v1``: the value of every band of the
images under one lon/lat point (what the viewer shows when the map is clicked).

A plain function, so FastAPI runs it (and GDAL) in its threadpool, off the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.point_query import DEFAULT_LIMIT, PointQuery

router = APIRouter()


@router.get("/point")
def point(
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
    value is null where it is nodata or masked."""
    service = PointQuery(MetadataService(state.repo), state.extras["objects"])
    with state.extras["objects"].gdal_env():  # the store's GDAL configuration (/vsis3/)
        found = service.query(
            p, products, lon, lat, start=start_datetime, end=end_datetime, limit=limit
        )
    return {"data": [v.to_dict() for v in found]}

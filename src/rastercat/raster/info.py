"""The gdalinfo-like metadata dict sent as line 1 of ``/npz`` and inside ``/raster`` (§4.2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike
from rasterio.warp import transform as transform_points

from rastercat.raster.types import NUMPY_TO_GDAL, BandInfo, Grid


def _corners(grid: Grid) -> dict[str, list[float]]:
    t = grid.transform
    w, h = grid.width, grid.height
    pts = {
        "upperLeft": (0, 0),
        "lowerLeft": (0, h),
        "upperRight": (w, 0),
        "lowerRight": (w, h),
        "center": (w / 2, h / 2),
    }
    return {k: list(t @ p) for k, p in pts.items()}


def _wgs84_extent(grid: Grid, corners: dict[str, list[float]]) -> dict[str, Any] | None:
    ring = [corners[k] for k in ("upperLeft", "lowerLeft", "lowerRight", "upperRight", "upperLeft")]
    try:
        lons, lats = transform_points(
            grid.crs, "EPSG:4326", [p[0] for p in ring], [p[1] for p in ring]
        )
    except Exception:  # a grid outside the CRS's area of use has no WGS84 outline
        return None
    return {"type": "Polygon", "coordinates": [[[x, y] for x, y in zip(lons, lats, strict=True)]]}


def _band_entry(i: int, band: BandInfo, gdal_type: str, grid: Grid) -> dict[str, Any]:
    description = dict(band.metadata) or {"name": band.name, "dtype": band.dtype}
    color = "Alpha" if band.is_alpha else str(description.get("color") or "Gray")
    entry: dict[str, Any] = {
        "band": i + 1,
        "description": description,
        "colorInterpretation": color,
        "type": gdal_type,
        "block": [grid.width, 1],
        "metadata": {},
    }
    if band.nodata is not None:
        entry["noDataValue"] = band.nodata
    return entry


def raster_metadata(
    grid: Grid, bands: Sequence[BandInfo], dtype: DTypeLike, image_ids: Sequence[str]
) -> dict[str, Any]:
    """Metadata of an output raster: the client reads ``geoTransform`` and ``coordinateSystem.wkt``."""
    gdal_type = NUMPY_TO_GDAL[np.dtype(dtype).name]
    corners = _corners(grid)
    return {
        "files": [],
        "driverShortName": "MEM",
        "driverLongName": "In Memory Raster",
        "size": [grid.width, grid.height],
        "geoTransform": list(grid.transform.to_gdal()),
        "coordinateSystem": {"wkt": grid.crs.to_wkt(), "proj4": grid.crs.to_proj4()},
        "cornerCoordinates": corners,
        "wgs84Extent": _wgs84_extent(grid, corners),
        "metadata": {"": {"id": image_ids[0] if len(image_ids) == 1 else "*"}},
        "bands": [_band_entry(i, b, gdal_type, grid) for i, b in enumerate(bands)],
    }

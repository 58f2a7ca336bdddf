"""The WGS84 footprint of a raster's valid data, split at the antimeridian.

The valid-data mask (nodata / alpha) is read at a low resolution from the COG's overviews,
vectorized, simplified, densified and reprojected. Longitudes are unwrapped along each ring so that
a raster crossing 180 degrees becomes a MultiPolygon cut at +/-180, never a band around the globe,
and a raster over a pole gets the polar cap it covers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import rasterio
import rasterio.features
import shapely
import shapely.affinity
from affine import Affine
from rasterio.enums import Resampling
from shapely.geometry import MultiPolygon, Polygon, box, shape
from shapely.geometry.polygon import orient

MASK_SIDE = 1024
"""Longer side, in pixels, of the mask the footprint is traced from."""
DENSIFY_SEGMENTS = 64
"""An edge as long as the raster's longer side is densified into this many segments."""


def _valid_geometry(
    path: Path, alpha_bidx: int | None = None
) -> tuple[shapely.Geometry, rasterio.crs.CRS, float, bool]:
    """Valid-data geometry in the raster's CRS, the mask pixel size, and whether all is valid.

    ``alpha_bidx`` names the catalog's alpha band: COGs carry no GDAL alpha (see ``plan.py``)."""
    with rasterio.open(path, driver="GTiff") as ds:
        scale = max(1.0, max(ds.width, ds.height) / MASK_SIDE)
        out_w = max(1, math.ceil(ds.width / scale))
        out_h = max(1, math.ceil(ds.height / scale))
        mask = ds.dataset_mask(out_shape=(out_h, out_w))
        if alpha_bidx is not None:
            alpha = ds.read(alpha_bidx, out_shape=(out_h, out_w), resampling=Resampling.nearest)
            mask = np.where(alpha != 0, mask, 0).astype(mask.dtype)
        transform = ds.transform @ Affine.scale(ds.width / out_w, ds.height / out_h)
        crs = ds.crs
    pixel = math.hypot(transform.a, transform.d)
    if mask.all() or not mask.any():
        outline = Polygon(
            [transform @ xy for xy in ((0, 0), (out_w, 0), (out_w, out_h), (0, out_h))]
        )
        return outline, crs, pixel, bool(mask.any())
    parts = [
        shape(geom)
        for geom, value in rasterio.features.shapes(
            mask, mask=mask > 0, transform=transform, connectivity=8
        )
        if value
    ]
    geom = shapely.union_all(parts)
    return shapely.simplify(geom, pixel / 2, preserve_topology=True), crs, pixel, True


def _ring_area(coords: Any, tolerance: float) -> shapely.Geometry:
    """The area a closed lon/lat ring bounds, within [-180, 180], simplified by ``tolerance``.

    Longitudes are unwrapped along the ring, so a ring crossing 180 degrees gets values beyond it
    and is cut there. A ring whose longitudes turn a full 360 degrees encircles a pole: it is
    closed along that pole's latitude, so the area is the polar cap it bounds, not a thin band.
    """
    xy = np.asarray(coords, dtype=float)
    xy[:, 0] = np.unwrap(xy[:, 0], period=360.0)
    if abs(xy[-1, 0] - xy[0, 0]) > 180.0:
        pole = 90.0 if xy[:, 1].mean() >= 0 else -90.0
        xy = np.vstack([xy, [[xy[-1, 0], pole], [xy[0, 0], pole], xy[0]]])
    area = shapely.make_valid(Polygon(xy))
    area = shapely.simplify(area, tolerance, preserve_topology=True)
    pieces = []
    for k in (-1, 0, 1):
        part = area.intersection(box(-180 + 360 * k, -90, 180 + 360 * k, 90))
        if not part.is_empty:
            pieces.append(shapely.affinity.translate(part, xoff=-360.0 * k))
    return shapely.union_all(pieces)


def _to_world(geom: shapely.Geometry, fraction: float) -> shapely.Geometry:
    """Lon/lat polygons as areas within [-180, 180]: cut at the antimeridian, closed over a pole
    they encircle, simplified by ``fraction`` of each polygon's extent."""
    polys = [p for p in getattr(geom, "geoms", [geom]) if isinstance(p, Polygon) and not p.is_empty]
    areas = []
    for poly in polys:
        x0, y0, x1, y1 = poly.bounds
        tolerance = fraction * math.hypot(x1 - x0, y1 - y0)
        outer = _ring_area(poly.exterior.coords, tolerance)
        holes = [_ring_area(ring.coords, tolerance) for ring in poly.interiors]
        areas.append(outer.difference(shapely.union_all(holes)) if holes else outer)
    return shapely.union_all(areas)


def _polygonal(geom: shapely.Geometry) -> Polygon | MultiPolygon:
    polys: list[Polygon] = []
    for g in getattr(geom, "geoms", [geom]):
        if isinstance(g, Polygon) and not g.is_empty:
            polys.append(g)
        elif isinstance(g, MultiPolygon):
            polys.extend(g.geoms)
    if len(polys) == 1:
        return orient(polys[0])
    return MultiPolygon([orient(p) for p in polys])


def footprint(path: Path, alpha_bidx: int | None = None) -> tuple[dict[str, Any], bool]:
    """GeoJSON footprint (WGS84) of the valid data of a COG, and whether any pixel is valid."""
    geom, crs, pixel, any_valid = _valid_geometry(path, alpha_bidx)
    xmin, ymin, xmax, ymax = geom.bounds
    extent = max(math.hypot(xmax - xmin, ymax - ymin), pixel)
    step = max(xmax - xmin, ymax - ymin, pixel) / DENSIFY_SEGMENTS
    geom = shapely.segmentize(geom, max(step, pixel / 4))
    transformer = pyproj.Transformer.from_crs(
        pyproj.CRS.from_wkt(crs.to_wkt()), pyproj.CRS.from_epsg(4326), always_xy=True
    )

    def to_lonlat(coords: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        lon, lat = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    lonlat = shapely.transform(geom, to_lonlat)
    if not np.all(np.isfinite(shapely.get_coordinates(lonlat))):
        raise ValueError("the raster's corners cannot be expressed in longitude/latitude")
    # Simplify by a quarter of a mask pixel, expressed as a fraction of the extent.
    lonlat = _to_world(lonlat, pixel / 4 / extent)
    lonlat = shapely.set_precision(shapely.make_valid(lonlat), 1e-9)
    return json.loads(shapely.to_geojson(_polygonal(lonlat))), any_valid

"""The WGS84 footprint of a raster's valid data, split at the antimeridian.

The valid-data mask (nodata / alpha) is read at a low resolution from the COG's overviews,
vectorized, simplified, densified and reprojected. Longitudes are unwrapped along each ring so that
a raster crossing 180 degrees becomes a MultiPolygon cut at +/-180, never a band around the globe.
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


def _unwrap_polygon(poly: Polygon) -> Polygon:
    """Make each ring's longitudes continuous (a ring crossing 180 gets values beyond it)."""
    ext = np.asarray(poly.exterior.coords)
    ext[:, 0] = np.unwrap(ext[:, 0], period=360.0)
    centre = ext[:, 0].mean()
    holes = []
    for ring in poly.interiors:
        hole = np.asarray(ring.coords)
        hole[:, 0] = np.unwrap(hole[:, 0], period=360.0)
        hole[:, 0] += 360.0 * round((centre - hole[:, 0].mean()) / 360.0)
        holes.append(hole)
    return Polygon(ext, holes)


def _split_at_antimeridian(geom: shapely.Geometry, fraction: float) -> shapely.Geometry:
    """Unwrap longitudes, simplify (tolerance: ``fraction`` of the extent), cut at +/-180."""
    polys = [p for p in getattr(geom, "geoms", [geom]) if isinstance(p, Polygon) and not p.is_empty]
    unwrapped = shapely.make_valid(shapely.union_all([_unwrap_polygon(p) for p in polys]))
    # Drop the densified points that add nothing at the mask's resolution.
    ux0, uy0, ux1, uy1 = unwrapped.bounds
    unwrapped = shapely.simplify(
        unwrapped, fraction * math.hypot(ux1 - ux0, uy1 - uy0), preserve_topology=True
    )
    pieces = []
    for k in (-1, 0, 1):
        part = unwrapped.intersection(box(-180 + 360 * k, -90, 180 + 360 * k, 90))
        if not part.is_empty:
            pieces.append(shapely.affinity.translate(part, xoff=-360.0 * k))
    return shapely.union_all(pieces)


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
    lonlat = _split_at_antimeridian(lonlat, pixel / 4 / extent)
    lonlat = shapely.set_precision(shapely.make_valid(lonlat), 1e-9)
    return json.loads(shapely.to_geojson(_polygonal(lonlat))), any_valid

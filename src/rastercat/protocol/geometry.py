"""The area of a search: GeoJSON (geometry, Feature, FeatureCollection) or WKT in lon/lat, made
valid, and cut at the antimeridian the way footprints are stored."""

from __future__ import annotations

import json
from typing import Any

from rastercat.errors import InvalidInput


def parse_geom(value: Any) -> Any:
    """A shapely geometry from a JSON string, a GeoJSON dict or WKT (lon/lat)."""
    from shapely import wkt
    from shapely.geometry import shape

    if value is None:
        return None
    if not isinstance(value, str | dict):
        raise InvalidInput("'geom' must be GeoJSON (an object or a string) or WKT", field="geom")
    try:
        if isinstance(value, str):
            s = value.strip()
            value = json.loads(s) if s.startswith("{") else wkt.loads(s)
        if isinstance(value, dict):
            if value.get("type") == "Feature":
                value = value["geometry"]
            elif value.get("type") == "FeatureCollection":
                from shapely.ops import unary_union

                return unary_union([shape(f["geometry"]) for f in value["features"]])
            value = shape(value)
    except Exception as exc:  # shapely and json raise many types for bad input
        raise InvalidInput(
            f"'geom' is not a valid GeoJSON or WKT geometry: {exc}", field="geom"
        ) from None
    if value.is_empty:
        raise InvalidInput("'geom' is empty", field="geom")
    if not value.is_valid:
        value = value.buffer(0)
    return wrap_longitudes(value)


def wrap_longitudes(geom: Any) -> Any:
    """A geometry drawn across the antimeridian with longitudes beyond +/-180, cut into parts
    within [-180, 180] (the way footprints are stored)."""
    from shapely import affinity, box
    from shapely.ops import unary_union

    minx, _, maxx, _ = geom.bounds
    if minx >= -180 and maxx <= 180:
        return geom
    if maxx - minx >= 360:
        raise InvalidInput("'geom' spans more than 360 degrees of longitude", field="geom")
    world = box(-180, -90, 180, 90)
    parts = [affinity.translate(geom, xoff=k * 360).intersection(world) for k in (-1, 0, 1)]
    return unary_union([p for p in parts if not p.is_empty])

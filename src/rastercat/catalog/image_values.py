"""Image attributes as stored: what ingest infers (kept on replace) and the searchable columns."""

from __future__ import annotations

from typing import Any

INFERRED = (
    "key", "proj4", "wkt", "cs_code", "geotrans", "descartes_version", "geometry", "raster_size", "bucket",
    "directory", "processed", "files", "file_sizes", "file_md5s", "identifier", "product", "statistics",
)  # fmt: skip


PIXEL_FACTS = (
    "proj4", "wkt", "cs_code", "geotrans", "raster_size", "bucket", "directory", "processed", "files",
    "file_sizes", "file_md5s", "statistics",
)  # fmt: skip
"""Attributes that describe the stored pixels of a processed image: set by ingest, never by a
change (a ``geotrans`` of null would leave every read of the image without a grid)."""


def check_pixels_unchanged(stored: dict[str, Any], changes: dict[str, Any]) -> None:
    """Refuse a change of what ingest recorded about an image's pixels (sending the same value
    back, as a full replace may, is fine): 400 naming the field."""
    from rastercat.errors import InvalidInput

    for name in PIXEL_FACTS:
        if name in changes and changes[name] != stored.get(name):
            raise InvalidInput(
                f"'{name}' describes the stored pixels of this image and is set by processing; "
                "upload the image again to change it",
                field=name,
            )


def image_row_values(attrs: dict[str, Any]) -> dict[str, Any]:
    """Column values derived from image attributes: searchable date and bbox."""
    from datetime import datetime

    values: dict[str, Any] = {"attrs": attrs, "acquired": None}
    if attrs.get("acquired"):
        values["acquired"] = datetime.fromisoformat(attrs["acquired"]).timestamp()
    geom = attrs.get("geometry")
    if geom:
        minx, miny, maxx, maxy = geometry_bounds(geom)
        values.update(minx=minx, miny=miny, maxx=maxx, maxy=maxy)
    else:
        values.update(minx=None, miny=None, maxx=None, maxy=None)
    return values


def geometry_bounds(geom: dict[str, Any]) -> tuple[float, float, float, float]:
    """The bbox of a GeoJSON geometry. Polygons (what image attributes hold) are read straight
    from their coordinates: building a shapely geometry again cost a third of a bulk insert."""
    kind = geom.get("type")
    if kind in ("Polygon", "MultiPolygon"):
        rings = geom["coordinates"] if kind == "Polygon" else [
            ring for poly in geom["coordinates"] for ring in poly
        ]  # fmt: skip
        xs = [float(pt[0]) for ring in rings for pt in ring]
        ys = [float(pt[1]) for ring in rings for pt in ring]
        if xs:
            return (min(xs), min(ys), max(xs), max(ys))
    from shapely.geometry import shape

    minx, miny, maxx, maxy = shape(geom).bounds
    return (minx, miny, maxx, maxy)


def bbox_of(values: dict[str, Any]) -> tuple[float, float, float, float] | None:
    if values.get("minx") is None:
        return None
    return (values["minx"], values["miny"], values["maxx"], values["maxy"])

"""Image attributes as stored: what ingest infers (kept on replace) and what describes the stored
pixels (the searchable columns are made in :mod:`rastercat.store.sql.images`)."""

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


__all__ = ["INFERRED", "PIXEL_FACTS", "check_pixels_unchanged"]

"""Validation of image attributes: the add_image docstring's list, plus what ingest infers."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from rastercat.protocol.validation import Number, StrictModel, parse_datetime_value


class ImageAttrs(StrictModel):
    """The image attributes of the add_image docstring, plus the ones ingest infers."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    absolute_orbit: int | None = None
    acquired: str | None = None
    archived: str | None = None
    area: Number | None = None
    azimuth_angle: Number | None = None
    azimuth_angle_1: Number | None = None
    bits_per_pixel: list[Number] | Number | None = Field(default=None, alias="bpp")
    bright_fraction: Number | None = None
    bucket: str | None = None
    catalog_id: str | None = None
    cirrus_fraction: Number | None = None
    cloud_fraction: Number | None = None
    cloud_fraction_0: Number | None = None
    cs_code: str | None = None
    datastrip_id: str | None = None
    degraded_fraction_0: Number | None = None
    descartes_version: str | None = None
    directory: str | None = None
    duration: Number | None = None
    duration_days: Number | None = None
    earth_sun_distance: Number | None = None
    files: list[str] | None = None
    file_md5s: list[str] | None = None
    file_sizes: list[int] | None = None
    fill_fraction: Number | None = None
    geolocation_accuracy: Number | None = None
    geometry: dict[str, Any] | None = None
    geotrans: list[Number] | None = None
    gpt_time: list[Any] | str | None = None
    identifier: str | None = None
    ifg_tdelta_days: Number | None = None
    incidence_angle: Number | None = None
    pass_: str | None = Field(default=None, alias="pass")
    processed: str | None = None
    proj4: str | None = None
    projcs: str | None = None
    published: str | None = None
    radiometric_version: str | None = None
    raster_size: list[int] | None = None
    reflectance_scale: list[Number] | None = None
    reflectance_scale_1: list[Number] | None = None
    relative_orbit: int | None = None
    roll_angle: Number | None = None
    safe_id: str | None = None
    sat_id: str | None = None
    scan_gap_interpolation: Number | None = None
    solar_azimuth_angle: Number | None = None
    solar_azimuth_angle_0: Number | None = None
    solar_azimuth_angle_1: Number | None = None
    solar_elevation_angle: Number | None = None
    solar_elevation_angle_0: Number | None = None
    solar_elevation_angle_1: Number | None = None
    tile_id: str | None = None
    view_angle: Number | None = None
    view_angle_1: Number | None = None
    read: list[str] | None = None
    writers: list[str] | None = None
    owners: list[str] | None = None
    extra_properties: dict[str, Any] | None = None
    key: str | None = None  # deprecated alias of the id in add_image

    @field_validator("acquired", "processed", "published", "archived", mode="before")
    @classmethod
    def _dt(cls, v: Any) -> str | None:
        return parse_datetime_value(v)

    @field_validator("geotrans")
    @classmethod
    def _gt(cls, v: list[float] | None) -> list[float] | None:
        if v is not None and (len(v) != 6 or not all(math.isfinite(x) for x in v)):
            raise ValueError("must be 6 finite numbers (a GDAL geotransform)")
        return v

    @field_validator("raster_size")
    @classmethod
    def _rs(cls, v: list[int] | None) -> list[int] | None:
        if v is not None and (len(v) != 2 or min(v) < 1):
            raise ValueError("must be [width, height], both positive")
        return v

    @field_validator("geometry")
    @classmethod
    def _geom(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return None
        from shapely.geometry import mapping, shape
        from shapely.validation import explain_validity

        try:
            g = shape(v)
        except Exception as exc:  # shapely raises several types for malformed GeoJSON
            raise ValueError(f"is not valid GeoJSON: {exc}") from None
        if g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
            raise ValueError("must be a non-empty GeoJSON Polygon or MultiPolygon")
        if not g.is_valid:
            raise ValueError(f"is not a valid polygon: {explain_validity(g)}")
        minx, miny, maxx, maxy = g.bounds
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise ValueError(
                "coordinates must be longitude/latitude within [-180, 180] x [-90, 90]"
            )
        return dict(mapping(g))

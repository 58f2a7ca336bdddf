"""Validation of product, band and image attributes (pydantic at the boundary).

Every rule turns into :class:`~rastercat.errors.InvalidInput` naming the field; unknown attributes are
rejected by name.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rastercat.errors import InvalidInput

DTYPES = ("Byte", "UInt16", "Int16", "UInt32", "Int32", "Float32", "Float64")
DTYPE_BITS = {
    "Byte": 8,
    "UInt16": 16,
    "Int16": 16,
    "UInt32": 32,
    "Int32": 32,
    "Float32": 32,
    "Float64": 64,
}
BAND_TYPES = ("spectral", "derived", "mask", "class")
COLORS = (
    "Alpha", "Black", "Blue", "Cyan", "Gray", "Green", "Hue", "Ligntness", "Magenta", "Palette", "Red",
    "Saturation", "Undefined", "YCbCr_Cb", "YCbCr_Cr", "YCbCr_Y", "Yellow",
)  # fmt: skip
COLORMAP_NAMES = (
    "plasma",
    "magma",
    "viridis",
    "inferno",
    "msw",
    "cividis",
    "gray",
    "terrain",
    "rdylgn",
    "spectral",
)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,199}$")
_FORBIDDEN_ID = re.compile(r"[/?#\\\x00-\x1f\x7f]")

Number = float | int


def check_product_id(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("'id' must be a non-empty string", field="id")
    if _FORBIDDEN_ID.search(value) or ".." in value or len(value) > 300 or value != value.strip():
        raise InvalidInput(
            f"product id {value!r} is not valid: no '/', '?', '#', '\\', '..', spaces at the ends or "
            "control characters, at most 300 characters",
            field="id",
        )
    return value


def check_key(value: str, what: str = "image id") -> str:
    if not isinstance(value, str) or not value or _FORBIDDEN_ID.search(value) or ".." in value:
        raise InvalidInput(f"{what} {value!r} is not valid", field="id")
    if len(value) > 300:
        raise InvalidInput(f"{what} is longer than 300 characters", field="id")
    return value


def _range(v: Any, name: str) -> list[float] | None:
    if v is None:
        return None
    if (
        not isinstance(v, list | tuple)
        or len(v) != 2
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        or not all(math.isfinite(x) for x in v)
    ):
        raise ValueError(f"{name} must be two finite numbers [min, max]")
    if v[0] > v[1]:
        raise ValueError(f"{name} must have min <= max, got {list(v)}")
    return [v[0], v[1]]


def _parse_datetime(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        return datetime.fromtimestamp(v, UTC).isoformat()
    if not isinstance(v, str):
        raise ValueError("must be an ISO-8601 date/time string")
    s = v.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"{v!r} is not an ISO-8601 date/time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def parse_datetime(v: Any, field: str) -> str | None:
    try:
        return _parse_datetime(v)
    except ValueError as exc:
        raise InvalidInput(f"'{field}': {exc}", field=field) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ProductAttrs(_Strict):
    title: str | None = None
    description: str | None = None
    read: list[str] | None = None
    writers: list[str] | None = None
    owners: list[str] | None = None
    spectral_bands: int | None = None
    native_bands: list[str] | int | None = None
    start_datetime: str | None = Field(default=None, alias="start_time")
    end_datetime: str | None = Field(default=None, alias="end_time")
    notes: str | None = None
    orbit: str | None = None
    processing_level: str | None = None
    resolution: str | float | None = None
    revisit: str | float | None = None
    sensor: str | None = None
    swath: str | float | None = None
    tags: list[str] | None = None

    @field_validator("start_datetime", "end_datetime", mode="before")
    @classmethod
    def _dt(cls, v: Any) -> str | None:
        return _parse_datetime(v)


class BandAttrs(_Strict):
    srcband: Annotated[int, Field(ge=1)] | None = None
    srcfile: Annotated[int, Field(ge=0)] | None = None
    jpx_layer: Annotated[int, Field(ge=0)] | None = None
    dtype: str | None = None
    nbits: Annotated[int, Field(ge=1, le=64)] | None = None
    data_range: list[Number] | None = None
    physical_range: list[Number] | None = None
    default_range: list[Number] | None = None
    type: Literal["spectral", "derived", "mask", "class"] | None = None
    nodata: Number | None = None
    read: list[str] | None = None
    writers: list[str] | None = None
    owners: list[str] | None = None
    color: str | None = None
    colormap_name: str | None = None
    colormap: list[list[Any]] | None = None
    data_description: str | None = None
    data_unit: str | None = None
    data_unit_description: str | None = None
    description: str | None = None
    name_common: str | None = None
    name_vendor: str | None = None
    vendor_order: int | None = None
    processing_level: str | None = None
    res_factor: int | None = None
    resolution: Number | None = None
    resolution_unit: str | None = None
    wavelength_center: Number | None = None
    wavelength_fwhm: Number | None = None
    wavelength_min: Number | None = None
    wavelength_max: Number | None = None
    wavelength_unit: str | None = None
    tags: list[str] | None = None

    @field_validator("dtype", mode="before")
    @classmethod
    def _dtype(cls, v: Any) -> str | None:
        if v is None:
            return None
        for d in DTYPES:
            if isinstance(v, str) and v.lower() == d.lower():
                return d
        raise ValueError(f"must be one of {', '.join(DTYPES)}")

    @field_validator("data_range", "physical_range", "default_range", mode="before")
    @classmethod
    def _ranges(cls, v: Any, info: Any) -> list[float] | None:
        return _range(v, info.field_name)

    @field_validator("color")
    @classmethod
    def _color(cls, v: str | None) -> str | None:
        if v is not None and v not in COLORS:
            raise ValueError(f"must be one of {', '.join(COLORS)}")
        return v

    @field_validator("colormap_name")
    @classmethod
    def _cmap_name(cls, v: str | None) -> str | None:
        if v is not None and v.lower() not in COLORMAP_NAMES:
            raise ValueError(f"must be one of {', '.join(COLORMAP_NAMES)}")
        return v.lower() if v else v

    @field_validator("colormap", mode="before")
    @classmethod
    def _cmap(cls, v: Any) -> list[list[str]] | None:
        if v is None:
            return None
        if not isinstance(v, list) or len(v) != 256:
            raise ValueError("must be a list of 256 entries of [r, g, b, a]")
        out = []
        for i, entry in enumerate(v):
            if not isinstance(entry, list | tuple) or len(entry) != 4:
                raise ValueError(f"entry {i} must be 4 values [r, g, b, a]")
            vals = []
            for x in entry:
                try:
                    n = int(x)
                except (TypeError, ValueError):
                    raise ValueError(
                        f"entry {i} has a value {x!r} that is not an integer"
                    ) from None
                if isinstance(x, float) and not x.is_integer() or not 0 <= n <= 255:
                    raise ValueError(f"entry {i} has a value {x!r} outside 0-255")
                vals.append(str(n))
            out.append(vals)
        return out


REQUIRED_BAND_FIELDS = ("srcband", "dtype", "nbits", "data_range", "type")


def check_band_consistency(attrs: dict[str, Any]) -> None:
    """Rules across fields, checked on the merged attributes of a band."""
    missing = [f for f in REQUIRED_BAND_FIELDS if attrs.get(f) is None]
    if missing:
        raise InvalidInput(
            f"missing required band field(s): {', '.join(missing)}", field=missing[0]
        )
    dtype, nbits = attrs["dtype"], attrs["nbits"]
    if nbits > DTYPE_BITS[dtype]:
        raise InvalidInput(
            f"'nbits' {nbits} does not fit dtype {dtype} ({DTYPE_BITS[dtype]} bits)", field="nbits"
        )


class ImageAttrs(_Strict):
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
        return _parse_datetime(v)

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


def _errors_to_invalid(exc: ValidationError, what: str) -> InvalidInput:
    parts = []
    first_field = None
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or what
        first_field = first_field or loc
        if err["type"] == "extra_forbidden":
            parts.append(f"unknown {what} attribute '{loc}'")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            parts.append(f"'{loc}': {msg}")
    return InvalidInput("; ".join(parts), field=first_field)


def validate_attrs(model: type[_Strict], data: Any, what: str) -> dict[str, Any]:
    """The given attributes, validated, by their canonical names (only those given)."""
    if not isinstance(data, dict):
        raise InvalidInput(f"the {what} body must be a JSON object")
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        raise _errors_to_invalid(exc, what) from None
    out = obj.model_dump(exclude_unset=True, by_alias=False)
    if "pass_" in out:
        out["pass"] = out.pop("pass_")
    return out


def check_band_name(name: Any) -> str:
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise InvalidInput(
            f"band name {name!r} is not valid: start with a letter or digit, then letters, digits, "
            "'_', '.', '+' or '-' (max 200)",
            field="name",
        )
    return name


def check_extra_properties(extra: Any, limit: int) -> None:
    if extra is None:
        return
    if len(extra) > limit:
        raise InvalidInput(
            f"'extra_properties' has {len(extra)} keys; at most {limit} are allowed",
            field="extra_properties",
        )
    for k, v in extra.items():
        if not isinstance(v, str | int | float):
            raise InvalidInput(
                f"'extra_properties.{k}' must be a string or a number", field="extra_properties"
            )

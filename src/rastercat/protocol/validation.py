"""Validation of ids, names, dates, and product and band attributes (pydantic at the boundary);
image attributes are in :mod:`rastercat.protocol.dl017.image_attrs`.

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
MAX_NAME_BYTES = 255
"""Longest file name (one path component) of common file systems, in bytes."""


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


def check_key(
    value: str, what: str = "image id", *, field: str = "id", file_name: bool = False
) -> str:
    """An image id or an upload's file name: no path separators, control characters or ``..``;
    not ``.``; at most 300 characters. A ``file_name`` becomes one path component of a stored
    key (``uploads/{uid}/{attempt}/{name}``), so it must also fit a file system's 255 bytes."""
    if (
        not isinstance(value, str)
        or not value
        or value == "."
        or _FORBIDDEN_ID.search(value)
        or ".." in value
    ):
        raise InvalidInput(
            f"{what} {value!r} is not valid: no '/', '?', '#', '\\', '..' or control characters, "
            "and not '.'",
            field=field,
        )
    if len(value) > 300:
        raise InvalidInput(f"{what} is longer than 300 characters", field=field)
    if file_name and len(value.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidInput(
            f"{what} is longer than {MAX_NAME_BYTES} bytes (UTF-8), the longest file name a "
            "file system stores",
            field=field,
        )
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


def parse_datetime_value(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, int | float) and not isinstance(v, bool):
        try:
            return datetime.fromtimestamp(v, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"{v!r} is not a Unix time within the years 1-9999") from None
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


def string_list(value: Any, field: str, what: str) -> list[str]:
    """A list of strings from one string or a list of them; 400 naming ``field`` otherwise."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise InvalidInput(f"'{field}' must be {what} or a list of them", field=field)
    return value


def optional_string(value: Any, field: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f"'{field}' must be a string", field=field)
    return value


def parse_datetime(v: Any, field: str) -> str | None:
    try:
        return parse_datetime_value(v)
    except ValueError as exc:
        raise InvalidInput(f"'{field}': {exc}", field=field) from None


class StrictModel(BaseModel):
    """Attributes models: unknown names are rejected, aliases accepted."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ProductAttrs(StrictModel):
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
        return parse_datetime_value(v)


class BandAttrs(StrictModel):
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


def validate_attrs(model: type[StrictModel], data: Any, what: str) -> dict[str, Any]:
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

"""The JSON body of ``POST /raster/v1/npz`` and ``POST /raster/v1/raster`` (wire protocol §4.1)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pydantic
import shapely
import shapely.geometry
from pydantic import BaseModel, ConfigDict, field_validator, model_validator
from shapely.geometry.base import BaseGeometry

from rastercat.errors import InvalidInput
from rastercat.raster.types import GDAL_TO_NUMPY

#: Resampler names the 0.17 client may send, mapped to rasterio's names. ``cubicsplice`` is the
#: client's own typo for ``cubicspline``.
RESAMPLERS: dict[str, str] = {
    "near": "nearest",
    "nearest": "nearest",
    "bilinear": "bilinear",
    "cubic": "cubic",
    "cubicspline": "cubic_spline",
    "cubicsplice": "cubic_spline",
    "lanczos": "lanczos",
    "average": "average",
    "mode": "mode",
    "min": "min",
    "max": "max",
    "med": "med",
    "q1": "q1",
    "q3": "q3",
}

FILE_FORMATS = ("GTiff", "PNG", "JPEG")
MAX_BANDS = 1000
"""Most band names one read may list (a name may repeat); scales come one per band."""
ARRAY_FORMATS = ("blosc", "npz")


def parse_cutline(shape: str | Mapping[str, Any]) -> BaseGeometry:
    """A WGS84 cutline from a JSON-encoded GeoJSON geometry (or Feature), a mapping, or WKT."""
    obj: Any = shape
    if isinstance(shape, str):
        text = shape.strip()
        if text.startswith("{"):
            obj = json.loads(text)
        else:
            return shapely.from_wkt(text)
    if obj.get("type") == "Feature":
        obj = obj["geometry"]
    geom = shapely.geometry.shape(obj)
    if geom.is_empty:
        raise ValueError("empty geometry")
    minx, miny, maxx, maxy = geom.bounds
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise ValueError("coordinates must be longitude/latitude within [-180, 180] x [-90, 90]")
    return geom


class RasterRequest(BaseModel):
    """Raster read parameters exactly as the 0.17 client sends them; unknown keys are ignored."""

    # Python's JSON parser accepts Infinity and NaN: refuse them in every number field.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    ids: str | list[str]
    bands: list[str] | None = None
    scales: list[list[float] | None] | None = None
    ot: str | None = None
    srs: str | None = None
    resolution: float | None = None
    outsize: tuple[int, int] | None = None
    outputBounds: tuple[float, float, float, float] | None = None  # noqa: N815 - wire name
    outputBoundsSRS: str | None = None  # noqa: N815 - wire name
    shape: str | dict[str, Any] | None = None
    targetAlignedPixels: bool | None = False  # noqa: N815 - wire name
    resampleAlg: str | None = "near"  # noqa: N815 - wire name
    processing_level: str | None = None
    of: str | None = None
    dltile: str | None = None
    masked: bool | None = None

    @classmethod
    def parse(cls, body: Mapping[str, Any]) -> RasterRequest:
        """Validate a request body; a bad field raises :class:`InvalidInput` naming it."""
        try:
            return cls.model_validate(body)
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            loc = str(err["loc"][0]) if err["loc"] else ""
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
            if not loc:  # a cross-field check: its message starts with the field it blames
                loc = msg.split(" ", 1)[0]
            raise InvalidInput(f"Invalid {loc}: {msg}", field=loc) from None

    @field_validator("ids")
    @classmethod
    def _ids_not_empty(cls, v: str | list[str]) -> str | list[str]:
        if not v or (isinstance(v, list) and not all(isinstance(i, str) and i for i in v)):
            raise ValueError("at least one image id is required")
        return v

    @field_validator("bands")
    @classmethod
    def _bands_bounded(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and len(v) > MAX_BANDS:
            raise ValueError(f"at most {MAX_BANDS} bands can be read at once")
        return v

    @field_validator("scales")
    @classmethod
    def _scales_shape(cls, v: list[list[float] | None] | None) -> list[list[float] | None] | None:
        for s in v or []:
            if s is not None and len(s) not in (2, 4):
                raise ValueError("each scale is null, [min, max] or [min, max, out_min, out_max]")
            if s is not None and s[0] == s[1]:
                raise ValueError("a scale's input range must not be empty")
        return v

    @field_validator("ot")
    @classmethod
    def _ot_known(cls, v: str | None) -> str | None:
        if v is not None and v not in GDAL_TO_NUMPY:
            raise ValueError(f"unknown data type {v!r}; use one of {', '.join(GDAL_TO_NUMPY)}")
        return v

    @field_validator("resolution")
    @classmethod
    def _resolution_positive(cls, v: float | None) -> float | None:
        if v is not None and not v > 0:
            raise ValueError("resolution must be positive")
        return v

    @field_validator("outsize")
    @classmethod
    def _outsize_positive(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and (v[0] <= 0 or v[1] <= 0):
            raise ValueError("outsize must be two positive integers")
        return v

    @field_validator("outputBounds")
    @classmethod
    def _bounds_ordered(
        cls, v: tuple[float, float, float, float] | None
    ) -> tuple[float, float, float, float] | None:
        if v is not None and not (v[0] < v[2] and v[1] < v[3]):
            raise ValueError("outputBounds must be [minx, miny, maxx, maxy] with min < max")
        return v

    @field_validator("resampleAlg")
    @classmethod
    def _resampler_known(cls, v: str | None) -> str | None:
        if v is not None and v not in RESAMPLERS:
            raise ValueError(f"unknown resampler {v!r}; use one of {', '.join(RESAMPLERS)}")
        return v

    @field_validator("of")
    @classmethod
    def _format_known(cls, v: str | None) -> str | None:
        if v is not None and v not in FILE_FORMATS + ARRAY_FORMATS:
            raise ValueError(f"unknown output format {v!r}")
        return v

    @field_validator("shape")
    @classmethod
    def _shape_parses(cls, v: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if v is not None:
            try:
                parse_cutline(v)
            except Exception as exc:
                raise ValueError(f"not a GeoJSON or WKT geometry ({exc})") from None
        return v

    @model_validator(mode="after")
    def _resolution_xor_outsize(self) -> RasterRequest:
        if self.resolution is not None and self.outsize is not None:
            raise ValueError("outsize cannot be combined with resolution")
        if (
            self.scales is not None
            and self.bands is not None
            and len(self.scales) != len(self.bands)
        ):
            raise ValueError("scales needs one entry per requested band")
        return self

    @property
    def id_list(self) -> list[str]:
        return [self.ids] if isinstance(self.ids, str) else list(self.ids)

    @property
    def cutline(self) -> BaseGeometry | None:
        """The WGS84 cutline geometry, or None."""
        return None if self.shape is None else parse_cutline(self.shape)

    @property
    def resampling(self) -> str:
        return self.resampleAlg or "near"

"""Geographic contexts: the output grid a Scene or SceneCollection is read onto (protocol §5.2, §4.5).

A context is an immutable value; change one with ``ctx.assign(**changes)``, which validates the result.
``raster_params`` are the keyword arguments it adds to :meth:`rastercat.client.raster.Raster.ndarray`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import shapely.geometry
from shapely.geometry.base import BaseGeometry

from rastercat.client.scenes._clients import raster_client as _raster
from rastercat.errors import InvalidInput

if TYPE_CHECKING:  # pragma: no cover
    from rastercat.client.raster import Raster

WGS84 = "EPSG:4326"
Bounds = tuple[float, float, float, float]


def as_geometry(value: Any) -> BaseGeometry:
    """A shapely geometry from a shapely geometry, a GeoJSON dict/Feature or a ``__geo_interface__``."""
    if isinstance(value, BaseGeometry):
        return value
    mapping = getattr(value, "__geo_interface__", value)
    if isinstance(mapping, Mapping) and mapping.get("type") == "Feature":
        mapping = mapping.get("geometry")
    if not isinstance(mapping, Mapping):
        raise InvalidInput(
            f"geometry must be a GeoJSON dict, a shapely geometry or have __geo_interface__, "
            f"not {type(value).__name__}",
            field="geometry",
        )
    try:
        return shapely.geometry.shape(mapping)
    except Exception as exc:  # shapely raises several unrelated types for bad GeoJSON
        raise InvalidInput(f"geometry is not valid GeoJSON: {exc}", field="geometry") from exc


def _check_crs(value: str, name: str) -> bool:
    """Whether a CRS string is geographic; InvalidInput if pyproj cannot parse it."""
    import pyproj

    try:
        return bool(pyproj.CRS.from_user_input(value).is_geographic)
    except pyproj.exceptions.CRSError as exc:
        raise InvalidInput(
            f"{name} {value!r} is not a CRS pyproj understands: {exc}", field=name
        ) from exc


def _check_bounds(bounds: Any, geographic: bool) -> Bounds:
    try:
        values = tuple(float(v) for v in bounds)
    except (TypeError, ValueError):
        raise InvalidInput(
            f"bounds must be 4 numbers (minx, miny, maxx, maxy), not {bounds!r}", field="bounds"
        ) from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise InvalidInput(f"bounds must be 4 finite numbers, not {bounds!r}", field="bounds")
    minx, miny, maxx, maxy = values
    if minx >= maxx or miny >= maxy:
        raise InvalidInput(
            f"bounds {values} are empty or inverted: expected (minx, miny, maxx, maxy)",
            field="bounds",
        )
    if geographic and not (-180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90):
        raise InvalidInput(
            f"bounds {values} are outside longitude/latitude ranges; if they are projected "
            "coordinates, set bounds_crs to their CRS",
            field="bounds",
        )
    return minx, miny, maxx, maxy


class GeoContext:
    """Base of the contexts: immutable, with ``assign`` and the ``raster_params`` for a read."""

    def assign(self, **changes: Any) -> GeoContext:
        """A copy with ``changes`` applied, validated like a new context (the original is unchanged)."""
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    @property
    def raster_params(self) -> dict[str, Any]:
        raise NotImplementedError

    @property
    def __geo_interface__(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class AOI(GeoContext):
    """An area of interest: output CRS, resolution or shape, bounds, and an optional cutline geometry.

    ``geometry`` (WGS84) is a cutline; without ``bounds`` the bounds are the geometry's, in EPSG:4326.
    Give ``resolution`` (CRS units per pixel) or ``shape`` ((rows, cols)), not both. ``crs`` may stay
    None until a read; ``scenes.search`` fills it with the most common CRS of the scenes it found.
    """

    geometry: Any = None
    resolution: float | None = None
    crs: str | None = None
    align_pixels: bool = True
    bounds: Bounds | None = None
    bounds_crs: str | None = WGS84
    shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: normalize the fields in place once, here
        geometry = None if self.geometry is None else as_geometry(self.geometry)
        if geometry is not None:
            if geometry.is_empty or geometry.geom_type not in ("Polygon", "MultiPolygon"):
                raise InvalidInput(
                    f"geometry must be a non-empty Polygon or MultiPolygon, not {geometry.geom_type}",
                    field="geometry",
                )
            _check_bounds(geometry.bounds, geographic=True)  # the cutline is always WGS84
        set_(self, "geometry", geometry)

        if self.resolution is not None and self.shape is not None:
            raise InvalidInput("set resolution or shape, not both", field="resolution")
        if self.resolution is not None:
            if isinstance(self.resolution, bool) or not isinstance(self.resolution, int | float):
                raise InvalidInput(f"resolution must be a number, not {self.resolution!r}")
            if not (math.isfinite(self.resolution) and self.resolution > 0):
                raise InvalidInput(f"resolution must be positive, not {self.resolution}")
        if self.shape is not None:
            set_(self, "shape", _check_shape(self.shape))
        if self.align_pixels is None or not isinstance(self.align_pixels, bool):
            raise InvalidInput(f"align_pixels must be True or False, not {self.align_pixels!r}")
        if self.crs is not None:
            _check_crs(self.crs, "crs")

        bounds = self.bounds
        if bounds is None and geometry is not None:
            bounds = geometry.bounds
            set_(self, "bounds_crs", WGS84)
        if bounds is not None:
            if self.bounds_crs is None:
                raise InvalidInput("bounds need a bounds_crs", field="bounds_crs")
            geographic = _check_crs(self.bounds_crs, "bounds_crs")
            bounds = _check_bounds(bounds, geographic)
            if geometry is not None and geographic:
                if not geometry.intersects(shapely.geometry.box(*bounds)):
                    raise InvalidInput(
                        f"geometry {geometry.bounds} is entirely outside bounds {bounds}",
                        field="bounds",
                    )
        set_(self, "bounds", bounds)

    def assign(self, **changes: Any) -> AOI:
        """A validated copy. A new geometry without new bounds re-derives the bounds from it, and
        setting resolution clears shape (and the other way round), so a context can switch grids."""
        if changes.get("geometry") is not None and "bounds" not in changes:
            changes.update(bounds=None, bounds_crs=WGS84)
        if changes.get("resolution") is not None and "shape" not in changes:
            changes["shape"] = None
        if changes.get("shape") is not None and "resolution" not in changes:
            changes["resolution"] = None
        return dataclasses.replace(self, **changes)

    @property
    def raster_params(self) -> dict[str, Any]:
        """Keyword arguments for ``Raster.ndarray``/``Raster.raster`` (protocol §5.2)."""
        missing = [
            name
            for name, value in (
                ("bounds", self.bounds),
                ("bounds_crs", self.bounds_crs),
                ("crs", self.crs),
            )
            if value is None
        ]
        if self.resolution is None and self.shape is None:
            missing.append("resolution or shape")
        if missing:
            raise InvalidInput(
                f"this AOI cannot be read yet: {', '.join(missing)} not set (use ctx.assign(...))"
            )
        assert self.bounds is not None
        return {
            "cutline": None if self.geometry is None else self.geometry.__geo_interface__,
            "resolution": self.resolution,
            "srs": self.crs,
            "bounds_srs": self.bounds_crs,
            "align_pixels": self.align_pixels,
            "bounds": list(self.bounds),
            "dimensions": None if self.shape is None else (self.shape[1], self.shape[0]),
        }

    @property
    def __geo_interface__(self) -> dict[str, Any]:
        """The WGS84 area: the geometry, else the bounds reprojected to WGS84."""
        if self.geometry is not None:
            return dict(self.geometry.__geo_interface__)
        if self.bounds is None or self.bounds_crs is None:
            raise InvalidInput("this AOI has neither a geometry nor bounds")
        bounds = self.bounds
        if not _check_crs(self.bounds_crs, "bounds_crs"):
            import pyproj

            transformer = pyproj.Transformer.from_crs(self.bounds_crs, WGS84, always_xy=True)
            bounds = transformer.transform_bounds(*bounds, densify_pts=21)
        return dict(shapely.geometry.box(*bounds).__geo_interface__)


def _check_shape(shape: Any) -> tuple[int, int]:
    if (
        isinstance(shape, Sequence)
        and len(shape) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape)
    ):
        return int(shape[0]), int(shape[1])
    raise InvalidInput(f"shape must be (rows, cols) of positive ints, not {shape!r}", field="shape")


_TILE_KEYS = ("key", "resolution", "tilesize", "pad", "cs_code", "outputBounds", "zone", "ti", "tj")


@dataclasses.dataclass(frozen=True)
class DLTile(GeoContext):
    """A UTM tile from the server's tiling (protocol §4.5); the server derives the grid from the key."""

    feature: Mapping[str, Any]

    def __post_init__(self) -> None:
        props = self.feature.get("properties") if isinstance(self.feature, Mapping) else None
        missing = [k for k in _TILE_KEYS if not isinstance(props, Mapping) or k not in props]
        if missing or "geometry" not in self.feature:
            raise InvalidInput(f"not a DLTile feature: missing {missing or ['geometry']}")

    @property
    def properties(self) -> Mapping[str, Any]:
        return self.feature["properties"]

    @property
    def key(self) -> str:
        return str(self.properties["key"])

    @property
    def resolution(self) -> float:
        return float(self.properties["resolution"])

    @property
    def tilesize(self) -> int:
        return int(self.properties["tilesize"])

    @property
    def pad(self) -> int:
        return int(self.properties["pad"])

    @property
    def crs(self) -> str:
        return str(self.properties["cs_code"])

    @property
    def bounds(self) -> Bounds:
        minx, miny, maxx, maxy = self.properties["outputBounds"]
        return float(minx), float(miny), float(maxx), float(maxy)

    @property
    def geometry(self) -> BaseGeometry:
        return as_geometry(self.feature["geometry"])

    @property
    def raster_params(self) -> dict[str, Any]:
        return {"dltile": self.key, "align_pixels": False}

    @property
    def __geo_interface__(self) -> dict[str, Any]:
        return dict(self.feature["geometry"])

    @classmethod
    def from_key(cls, key: str, raster_client: Raster | None = None) -> DLTile:
        with _raster(raster_client) as raster:
            return cls(raster.dltile(key))

    @classmethod
    def from_latlon(
        cls,
        lat: float,
        lon: float,
        resolution: float,
        tilesize: int,
        pad: int,
        raster_client: Raster | None = None,
    ) -> DLTile:
        with _raster(raster_client) as raster:
            return cls(raster.dltile_from_latlon(lat, lon, resolution, tilesize, pad))

    @classmethod
    def from_shape(
        cls,
        shape: Any,
        resolution: float,
        tilesize: int,
        pad: int,
        raster_client: Raster | None = None,
    ) -> list[DLTile]:
        with _raster(raster_client) as raster:
            features = raster.dltiles_from_shape(resolution, tilesize, pad, shape)["features"]
        return [cls(f) for f in features]

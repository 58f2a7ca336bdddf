"""DLTiles (wire protocol §4.5): square UTM tiles named ``tilesize:pad:resolution:zone:ti:tj``.

A tile's padded bounds in ``EPSG:326{zone}`` are ``minx = 500000 + ti*step - pad*res``,
``miny = tj*step - pad*res`` with ``step = tilesize*res`` and side ``(tilesize + 2*pad)*res``.
Southern latitudes use the same northern-zone CRS with negative northings (``tj < 0``); the original
platform's southern convention is unverified.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import shapely
import shapely.geometry
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from shapely.geometry.base import BaseGeometry

from rastercat.errors import InvalidInput
from rastercat.raster.types import Grid

_FALSE_EASTING = 500_000.0
# UTM is meaningless at the poles; shapes are clipped to these latitudes before projecting.
_MAX_LAT = 84.0
_MIN_LAT = -80.0


@dataclass(frozen=True)
class TileSpec:
    tilesize: int
    pad: int
    resolution: float
    zone: int
    ti: int
    tj: int

    @property
    def key(self) -> str:
        return (
            f"{self.tilesize}:{self.pad}:{float(self.resolution)!r}:{self.zone}:{self.ti}:{self.tj}"
        )

    @property
    def epsg(self) -> int:
        return 32600 + self.zone

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Padded ``(minx, miny, maxx, maxy)`` in the zone's UTM CRS."""
        step = self.tilesize * self.resolution
        minx = _FALSE_EASTING + self.ti * step - self.pad * self.resolution
        miny = self.tj * step - self.pad * self.resolution
        side = (self.tilesize + 2 * self.pad) * self.resolution
        return minx, miny, minx + side, miny + side


MAX_TILE_PIXELS = 32_768
"""Longest side of a DLTile in pixels (the raster output cap)."""
MAX_TILE_METRES = 1_000_000.0
"""Longest side of a DLTile on the ground: a UTM zone is ~670 km wide at the equator."""


def _check_params(tilesize: Any, pad: Any, resolution: Any) -> tuple[int, int, float]:
    try:
        ts, pd, res = int(tilesize), int(pad), float(resolution)
    except (TypeError, ValueError, OverflowError):
        raise InvalidInput(
            "tilesize and pad must be integers, resolution a number", field="dltile"
        ) from None
    if ts <= 0 or pd < 0 or not (res > 0 and math.isfinite(res)):
        raise InvalidInput("tilesize must be positive, pad >= 0, resolution > 0", field="dltile")
    if ts + 2 * pd > MAX_TILE_PIXELS or (ts + 2 * pd) * res > MAX_TILE_METRES:
        raise InvalidInput(
            f"a tile is at most {MAX_TILE_PIXELS} pixels and {MAX_TILE_METRES / 1000:.0f} km "
            "a side (tilesize + 2 * pad, times resolution)",
            field="dltile",
        )
    return ts, pd, res


def _integer(value: Any, name: str) -> int:
    """An integer parameter: an int, a whole float or a numeric string; 400 naming it otherwise."""
    whole_float = isinstance(value, float) and value.is_integer() and abs(value) < 2**53
    if isinstance(value, bool) or not (isinstance(value, int | str) or whole_float):
        raise InvalidInput(f"'{name}' must be an integer", field=name)
    try:
        return int(value)
    except ValueError:
        raise InvalidInput(f"'{name}' must be an integer", field=name) from None


def parse_key(key: str) -> TileSpec:
    """The tile named by ``key``; :class:`InvalidInput` when malformed."""
    parts = str(key).split(":")
    if len(parts) != 6:
        raise InvalidInput(
            f"Invalid DLTile key {key!r}: expected tilesize:pad:resolution:zone:ti:tj",
            field="dltile",
        )
    ts, pd, res = _check_params(*parts[:3])
    try:
        zone, ti, tj = int(parts[3]), int(parts[4]), int(parts[5])
    except ValueError:
        raise InvalidInput(
            f"Invalid DLTile key {key!r}: zone, ti and tj must be integers", field="dltile"
        ) from None
    if not 1 <= zone <= 60:
        raise InvalidInput(f"Invalid DLTile key {key!r}: UTM zone must be 1..60", field="dltile")
    return TileSpec(ts, pd, res, zone, ti, tj)


@lru_cache(maxsize=64)
def _to_utm(zone: int) -> Transformer:
    return Transformer.from_crs("EPSG:4326", f"EPSG:{32600 + zone}", always_xy=True)


@lru_cache(maxsize=64)
def _from_utm(zone: int) -> Transformer:
    return Transformer.from_crs(f"EPSG:{32600 + zone}", "EPSG:4326", always_xy=True)


@lru_cache(maxsize=64)
def _zone_crs_text(zone: int) -> tuple[str, str]:
    crs = CRS.from_epsg(32600 + zone)
    return f"+proj=utm +zone={zone} +datum=WGS84 +units=m +no_defs ", crs.to_wkt()


def tile_feature(spec: TileSpec) -> dict[str, Any]:
    """The GeoJSON Feature the client's ``DLTile`` is built from."""
    minx, miny, maxx, maxy = spec.bounds
    ring = [(minx, miny), (maxx, miny), (maxx, maxy), (minx, maxy), (minx, miny)]
    lons, lats = _from_utm(spec.zone).transform([p[0] for p in ring], [p[1] for p in ring])
    proj4, wkt = _zone_crs_text(spec.zone)
    return {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[x, y] for x, y in zip(lons, lats, strict=True)]],
        },
        "properties": {
            "key": spec.key,
            "cs_code": f"EPSG:{spec.epsg}",
            "zone": spec.zone,
            "ti": spec.ti,
            "tj": spec.tj,
            "resolution": float(spec.resolution),
            "tilesize": spec.tilesize,
            "pad": spec.pad,
            "outputBounds": [minx, miny, maxx, maxy],
            "geotrans": [minx, float(spec.resolution), 0, maxy, 0, -float(spec.resolution)],
            "proj4": proj4,
            "wkt": wkt,
        },
    }


def dltile_from_key(key: str) -> dict[str, Any]:
    return tile_feature(parse_key(key))


def _zone_of(lon: float) -> int:
    return min(60, max(1, int(math.floor((lon + 180.0) / 6.0)) + 1))


def dltile_from_latlon(
    lat: float, lon: float, resolution: float, tilesize: int, pad: int
) -> dict[str, Any]:
    """The tile of the zone containing ``lon`` that contains the point."""
    ts, pd, res = _check_params(tilesize, pad, resolution)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("lat must be in [-90, 90] and lon in [-180, 180]", field="lat")
    zone = _zone_of(lon)
    x, y = _to_utm(zone).transform(lon, lat)
    step = ts * res
    spec = TileSpec(
        ts, pd, res, zone, math.floor((x - _FALSE_EASTING) / step), math.floor(y / step)
    )
    return tile_feature(spec)


def _shape_geometry(shape: str | Mapping[str, Any]) -> BaseGeometry:
    try:
        obj = json.loads(shape) if isinstance(shape, str) else dict(shape)
        if obj.get("type") == "Feature":
            obj = obj["geometry"]
        geom = shapely.geometry.shape(obj)
    except Exception as exc:
        raise InvalidInput(
            f"Invalid shape: not a GeoJSON geometry ({exc})", field="shape"
        ) from None
    if geom.is_empty:
        raise InvalidInput("Invalid shape: empty geometry", field="shape")
    return geom


def _tiles_in_zone(
    geom: BaseGeometry, zone: int, ts: int, pd: int, res: float
) -> Iterator[TileSpec]:
    lon0 = -180.0 + (zone - 1) * 6.0
    part = geom.intersection(shapely.geometry.box(lon0, _MIN_LAT, lon0 + 6.0, _MAX_LAT))
    if part.is_empty:
        return
    # Densify in degrees so straight lon/lat edges follow their curve in UTM.
    utm = shapely.transform(
        shapely.segmentize(part, 0.05), _to_utm(zone).transform, interleaved=False
    )
    step = ts * res
    minx, miny, maxx, maxy = utm.bounds
    for ti in range(
        math.floor((minx - _FALSE_EASTING) / step), math.floor((maxx - _FALSE_EASTING) / step) + 1
    ):
        x0 = _FALSE_EASTING + ti * step
        column = utm.intersection(shapely.geometry.box(x0, miny, x0 + step, maxy))
        if column.is_empty:
            continue
        shapely.prepare(column)
        _, cminy, _, cmaxy = column.bounds
        for tj in range(math.floor(cminy / step), math.floor(cmaxy / step) + 1):
            if column.intersects(shapely.geometry.box(x0, tj * step, x0 + step, (tj + 1) * step)):
                yield TileSpec(ts, pd, res, zone, ti, tj)


def dltiles_from_shape(
    shape_geojson: str | Mapping[str, Any],
    resolution: float,
    tilesize: int,
    pad: int,
    maxtiles: int = 5000,
    start_zone: int | None = None,
    start_ti: int | None = None,
    start_tj: int | None = None,
) -> dict[str, Any]:
    """One page (at most ``maxtiles``) of the tiles covering a WGS84 shape, ordered by zone, ti, tj.

    ``iterstate`` names the first tile of the next page, or is None after the last page.
    """
    ts, pd, res = _check_params(tilesize, pad, resolution)
    maxtiles = _integer(maxtiles, "maxtiles")
    if maxtiles < 1:
        raise InvalidInput("maxtiles must be positive", field="maxtiles")
    geom = _shape_geometry(shape_geojson)
    west, _, east, _ = geom.bounds
    resume = None
    if start_zone is not None:
        resume = (
            _integer(start_zone, "start_zone"),
            _integer(start_ti or 0, "start_ti"),
            _integer(start_tj or 0, "start_tj"),
        )
    features: list[dict[str, Any]] = []
    iterstate = None
    for zone in range(_zone_of(west), _zone_of(east) + 1):
        if resume is not None and zone < resume[0]:
            continue
        for spec in _tiles_in_zone(geom, zone, ts, pd, res):
            if resume is not None and (spec.zone, spec.ti, spec.tj) < resume:
                continue
            if len(features) == maxtiles:
                iterstate = {"start_zone": spec.zone, "start_ti": spec.ti, "start_tj": spec.tj}
                break
            features.append(tile_feature(spec))
        if iterstate is not None:
            break
    return {"type": "FeatureCollection", "features": features, "iterstate": iterstate}


def dltile_grid(key: str) -> Grid:
    """The output grid a ``dltile`` raster request reads onto."""
    spec = parse_key(key)
    minx, _, _, maxy = spec.bounds
    n = spec.tilesize + 2 * spec.pad
    res = float(spec.resolution)
    return Grid(CRS.from_epsg(spec.epsg), Affine(res, 0.0, minx, 0.0, -res, maxy), n, n)

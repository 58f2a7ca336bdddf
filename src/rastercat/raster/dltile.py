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
MIN_RESOLUTION = 0.001
"""Finest DLTile pixel, in metres: finer ones only make tile indexes astronomically large."""
MAX_OFFSET_METRES = 20_000_000.0
"""How far a tile may lie from a zone's origin (its false easting, the equator): half the Earth."""
MAX_TILES_PER_PAGE = 10_000
"""Largest ``maxtiles`` of one page of tiles covering a shape (the client asks 5000 by default)."""
MAX_CANDIDATES_PER_PAGE = 50_000
"""Candidate tiles one page examines at most; a page may end early, its ``iterstate`` resumes."""
MAX_PAGE_WORK = 20_000_000
"""Candidates times shape vertices one page may cost: complex shapes examine fewer candidates."""
MAX_SHAPE_POINTS = 1_000_000
"""Most vertices of a shape's part in one zone, once densified to follow UTM's curves."""
_DENSIFY_DEGREES = 0.05


def _check_params(
    tilesize: Any, pad: Any, resolution: Any, key: bool = False
) -> tuple[int, int, float]:
    """Checked tile parameters; errors name each one (or ``dltile`` when they come in a key)."""

    def fail(name: str, message: str) -> InvalidInput:
        return InvalidInput(f"Invalid {name}: {message}", field="dltile" if key else name)

    try:
        ts = int(tilesize)
    except (TypeError, ValueError, OverflowError):
        raise fail("tilesize", "must be an integer") from None
    try:
        pd = int(pad)
    except (TypeError, ValueError, OverflowError):
        raise fail("pad", "must be an integer") from None
    try:
        res = float(resolution)
    except (TypeError, ValueError, OverflowError):
        raise fail("resolution", "must be a number") from None
    if not 1 <= ts <= MAX_TILE_PIXELS:
        raise fail("tilesize", f"must be from 1 to {MAX_TILE_PIXELS} pixels")
    if not 0 <= pd <= MAX_TILE_PIXELS:
        raise fail("pad", f"must be from 0 to {MAX_TILE_PIXELS} pixels")
    if not (math.isfinite(res) and MIN_RESOLUTION <= res):
        raise fail("resolution", f"must be a number of metres of at least {MIN_RESOLUTION}")
    if ts + 2 * pd > MAX_TILE_PIXELS or (ts + 2 * pd) * res > MAX_TILE_METRES:
        raise fail(
            "tilesize" if ts + 2 * pd > MAX_TILE_PIXELS else "resolution",
            f"a tile is at most {MAX_TILE_PIXELS} pixels and {MAX_TILE_METRES / 1000:.0f} km "
            "a side (tilesize + 2 * pad, times resolution)",
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


def _check_index(value: int, step: float, name: str, field: str) -> int:
    """A tile index ``ti`` or ``tj`` within :data:`MAX_OFFSET_METRES` of the zone's origin."""
    if abs(value) > MAX_OFFSET_METRES / step:
        raise InvalidInput(
            f"Invalid {name}: tile {value} lies more than {MAX_OFFSET_METRES / 1000:.0f} km from "
            "the zone's origin",
            field=field,
        )
    return value


def parse_key(key: str) -> TileSpec:
    """The tile named by ``key``; :class:`InvalidInput` when malformed."""
    parts = str(key).split(":")
    if len(parts) != 6:
        raise InvalidInput(
            f"Invalid DLTile key {key!r}: expected tilesize:pad:resolution:zone:ti:tj",
            field="dltile",
        )
    ts, pd, res = _check_params(parts[0], parts[1], parts[2], key=True)
    try:
        zone, ti, tj = int(parts[3]), int(parts[4]), int(parts[5])
    except ValueError:
        raise InvalidInput(
            f"Invalid DLTile key {key!r}: zone, ti and tj must be integers", field="dltile"
        ) from None
    if not 1 <= zone <= 60:
        raise InvalidInput(f"Invalid DLTile key {key!r}: UTM zone must be 1..60", field="dltile")
    _check_index(ti, ts * res, "ti", "dltile")
    _check_index(tj, ts * res, "tj", "dltile")
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


def _candidates_in_zone(
    geom: BaseGeometry, zone: int, ts: int, res: float, start: tuple[int, int] | None
) -> Iterator[tuple[int, int, bool]]:
    """``(ti, tj, covers)`` of each candidate tile examined, in ``(ti, tj)`` order from ``start``.

    Every step of work yields (an empty column too, as its first tile), so that a caller can
    bound the work of a page and resume exactly where it stopped.
    """
    lon0 = -180.0 + (zone - 1) * 6.0
    part = geom.intersection(shapely.geometry.box(lon0, _MIN_LAT, lon0 + 6.0, _MAX_LAT))
    if part.is_empty:
        return
    if shapely.get_num_coordinates(part) + part.length / _DENSIFY_DEGREES > MAX_SHAPE_POINTS:
        raise InvalidInput(
            f"Invalid shape: more than {MAX_SHAPE_POINTS} vertices once its edges are densified "
            f"every {_DENSIFY_DEGREES} degrees; simplify it",
            field="shape",
        )
    # Densify in degrees so straight lon/lat edges follow their curve in UTM.
    utm = shapely.transform(
        shapely.segmentize(part, _DENSIFY_DEGREES), _to_utm(zone).transform, interleaved=False
    )
    step = ts * res
    minx, miny, maxx, maxy = utm.bounds
    first_ti = math.floor((minx - _FALSE_EASTING) / step)
    if start is not None:
        first_ti = max(first_ti, start[0])
    for ti in range(first_ti, math.floor((maxx - _FALSE_EASTING) / step) + 1):
        x0 = _FALSE_EASTING + ti * step
        column = utm.intersection(shapely.geometry.box(x0, miny, x0 + step, maxy))
        first_tj = math.floor(miny / step)
        if start is not None and ti == start[0]:
            first_tj = max(first_tj, start[1])
        if column.is_empty:
            yield ti, first_tj, False
            continue
        shapely.prepare(column)
        _, cminy, _, cmaxy = column.bounds
        first_tj = max(first_tj, math.floor(cminy / step))
        for tj in range(first_tj, math.floor(cmaxy / step) + 1):
            box = shapely.geometry.box(x0, tj * step, x0 + step, (tj + 1) * step)
            yield ti, tj, column.intersects(box)


def _vertices(geom: BaseGeometry) -> int:
    """Roughly the vertices one column intersection walks: the shape's, densified."""
    return max(1, int(shapely.get_num_coordinates(geom) + geom.length / _DENSIFY_DEGREES))


def _resume_point(
    start_zone: Any, start_ti: Any, start_tj: Any, step: float
) -> tuple[int, int, int] | None:
    if start_zone is None:
        return None
    zone = _integer(start_zone, "start_zone")
    if not 1 <= zone <= 60:
        raise InvalidInput("Invalid start_zone: a UTM zone is from 1 to 60", field="start_zone")
    ti = _check_index(_integer(start_ti or 0, "start_ti"), step, "start_ti", "start_ti")
    tj = _check_index(_integer(start_tj or 0, "start_tj"), step, "start_tj", "start_tj")
    return zone, ti, tj


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

    ``iterstate`` names the first tile of the next page, or is None after the last page. A page
    examines at most :data:`MAX_CANDIDATES_PER_PAGE` candidate tiles (fewer for complex shapes:
    :data:`MAX_PAGE_WORK`), so a sparse shape at a fine tile size may answer short pages (the
    client loops while ``iterstate`` is set).
    """
    ts, pd, res = _check_params(tilesize, pad, resolution)
    maxtiles = _integer(maxtiles, "maxtiles")
    if not 1 <= maxtiles <= MAX_TILES_PER_PAGE:
        raise InvalidInput(
            f"Invalid maxtiles: a page holds from 1 to {MAX_TILES_PER_PAGE} tiles",
            field="maxtiles",
        )
    resume = _resume_point(start_zone, start_ti, start_tj, ts * res)
    geom = _shape_geometry(shape_geojson)
    west, _, east, _ = geom.bounds
    features: list[dict[str, Any]] = []
    iterstate = None
    examined = 0
    budget = max(64, min(MAX_CANDIDATES_PER_PAGE, MAX_PAGE_WORK // _vertices(geom)))
    for zone in range(_zone_of(west), _zone_of(east) + 1):
        if resume is not None and zone < resume[0]:
            continue
        start = resume[1:] if resume is not None and zone == resume[0] else None
        for ti, tj, covers in _candidates_in_zone(geom, zone, ts, res, start):
            if len(features) == maxtiles or examined == budget:
                iterstate = {"start_zone": zone, "start_ti": ti, "start_tj": tj}
                break
            examined += 1
            if covers:
                features.append(tile_feature(TileSpec(ts, pd, res, zone, ti, tj)))
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

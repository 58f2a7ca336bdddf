"""XYZ tiles and TileJSON, mounted at ``/tiles/v1``.

Tiles render in a worker thread (GDAL off the event loop) once one of the app's read slots is
free. A tile answers with an ETag built from what it draws (images, bands, parameters), so an
unchanged tile costs a catalog lookup and a 304, not a render. ``?token=`` works like the Authorization header, which is
what makes a tile URL usable as an XYZ layer in QGIS or any web map.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from rastercat.api.deps import StateDep, TilePrincipalDep
from rastercat.api.routes.uploads import public_base
from rastercat.api.state import AppState
from rastercat.catalog.tiles import TileCatalog, TileLayer, TileStyle, max_zoom_for
from rastercat.errors import InvalidInput
from rastercat.raster.colormaps import Colormap, named_colormap
from rastercat.raster.tiles import check_tile, check_tilesize, empty_tile, render_tile

router = APIRouter()

MEDIA_TYPES = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg", "jpeg": "image/jpeg"}
#: Tiles depend on the caller's permissions: private caches only, revalidated after a minute.
CACHE_CONTROL = "private, max-age=60"


def _catalog(state: AppState) -> TileCatalog:
    return state.tiles


def parse_bands(values: list[str]) -> tuple[str, ...]:
    """``?bands=red&bands=green`` or ``?bands=red,green,blue``."""
    return tuple(n.strip() for v in values for n in v.split(",") if n.strip())


def parse_rescale(values: list[str]) -> tuple[tuple[float, float], ...]:
    """``?rescale=0,3000`` (all bands) or one ``rescale`` per band."""
    out = []
    for v in values:
        try:
            lo, hi = (float(x) for x in v.split(","))
        except ValueError:
            raise InvalidInput(f"'rescale' must be 'min,max', got {v!r}", field="rescale") from None
        out.append((lo, hi))
    return tuple(out)


def parse_colormap(value: str | None) -> Colormap | None:
    """A colormap name (``magma``) or a JSON colormap: a list of ``[r, g, b, a]`` or ``{value: rgba}``."""
    if not value:
        return None
    text = value.strip()
    if not text.startswith(("[", "{")):
        return named_colormap(text)
    try:
        data = json.loads(text)
        items = enumerate(data) if isinstance(data, list) else data.items()
        cmap: Colormap = {}
        for k, rgba in items:
            entry = [int(float(c)) for c in rgba]
            if len(entry) == 3:
                entry.append(255)
            if len(entry) != 4 or not all(0 <= c <= 255 for c in entry):
                raise ValueError
            cmap[int(k)] = (entry[0], entry[1], entry[2], entry[3])
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput(
            "'colormap' must be a colormap name or JSON of [r, g, b, a] entries", field="colormap"
        ) from None
    if not cmap or not all(0 <= k <= 255 for k in cmap):
        raise InvalidInput("'colormap' entries are indexed 0..255", field="colormap")
    return cmap


def style_from(
    fmt: str, bands: list[str], colormap: str | None, rescale: list[str], resampling: str,
    tilesize: int,
) -> TileStyle:  # fmt: skip
    fmt = fmt.lower()
    if fmt not in MEDIA_TYPES:
        raise InvalidInput(f"unknown tile format {fmt!r}; use png, webp or jpg", field="format")
    check_tilesize(tilesize)
    return TileStyle(
        bands=parse_bands(bands),
        colormap=parse_colormap(colormap),
        rescale=parse_rescale(rescale),
        resampling=resampling,
        fmt=fmt,
        tilesize=tilesize,
    )


@lru_cache(maxsize=16)
def _blank(tilesize: int, fmt: str) -> bytes:
    return empty_tile(tilesize, fmt)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison: ``*`` or any listed tag, ``W/`` prefixes ignored."""
    if not if_none_match:
        return False
    tags = [m.strip().removeprefix("W/") for m in if_none_match.split(",")]
    return "*" in tags or etag in tags


def _tile_response(request: Request, layer: TileLayer, style: TileStyle, z: int, x: int,
                   y: int) -> Response:  # fmt: skip
    headers = {"ETag": layer.etag, "Cache-Control": CACHE_CONTROL}
    # Only reached once the layer was resolved for this caller, i.e. the read permission held.
    if _matches(request.headers.get("if-none-match"), layer.etag):
        return Response(status_code=304, headers=headers)
    content = None
    if layer.sources:
        content = render_tile(
            layer.sources,
            layer.bands,
            z,
            x,
            y,
            tilesize=style.tilesize,
            rescale=list(style.rescale) or None,
            colormap=layer.colormap if len(layer.bands) == 1 else None,
            fmt=style.fmt,
            resampling=style.resampling,
            alpha=layer.alpha,
        )
    if content is None:
        content = _blank(style.tilesize, style.fmt)
    return Response(content, media_type=MEDIA_TYPES[style.fmt], headers=headers)


BandsQ = Annotated[list[str], Query()]
RescaleQ = Annotated[list[str], Query()]


@router.get("/images/{image_id:path}/{z:int}/{x:int}/{y:int}.{fmt}")
async def image_tile(
    request: Request,
    state: StateDep,
    p: TilePrincipalDep,
    image_id: str,
    z: int,
    x: int,
    y: int,
    fmt: str,
    bands: BandsQ = [],  # noqa: B006 (FastAPI copies query defaults)
    colormap: str | None = None,
    rescale: RescaleQ = [],  # noqa: B006
    resampling: str = "near",
    tilesize: int = 256,
) -> Response:
    check_tile(z, x, y)
    style = style_from(fmt, bands, colormap, rescale, resampling, tilesize)
    return await state.read_slots.run(_image_tile, request, state, p, image_id, style, z, x, y)


def _image_tile(request: Request, state: Any, p: Any, image_id: str, style: TileStyle, z: int,
                x: int, y: int) -> Response:  # fmt: skip
    layer = _catalog(state).image_layer(p, image_id, style)
    return _tile_response(request, layer, style, z, x, y)


@router.get("/products/{pid:path}/{z:int}/{x:int}/{y:int}.{fmt}")
async def product_tile(
    request: Request,
    state: StateDep,
    p: TilePrincipalDep,
    pid: str,
    z: int,
    x: int,
    y: int,
    fmt: str,
    bands: BandsQ = [],  # noqa: B006
    colormap: str | None = None,
    rescale: RescaleQ = [],  # noqa: B006
    resampling: str = "near",
    tilesize: int = 256,
    order: str = "newest",
    start_datetime: str | None = None,
    end_datetime: str | None = None,
) -> Response:
    check_tile(z, x, y)
    style = style_from(fmt, bands, colormap, rescale, resampling, tilesize)
    where = (order, start_datetime, end_datetime)
    return await state.read_slots.run(_product_tile, request, state, p, pid, style, z, x, y, where)


def _product_tile(request: Request, state: Any, p: Any, pid: str, style: TileStyle, z: int,
                  x: int, y: int, where: tuple[str, str | None, str | None]) -> Response:  # fmt: skip
    order, start, end = where
    layer = _catalog(state).product_layer(p, pid, z, x, y, style, order=order, start=start, end=end)
    return _tile_response(request, layer, style, z, x, y)


def _tilejson(request: Request, state: Any, path: str, name: str, bounds: list[float],
              pixel_metres: float | None) -> dict:  # fmt: skip
    base = public_base(request, state.settings.public_url)
    query = request.url.query
    fmt = request.query_params.get("format", "png")
    if fmt not in MEDIA_TYPES:
        raise InvalidInput(f"unknown tile format {fmt!r}; use png, webp or jpg", field="format")
    params = "&".join(kv for kv in query.split("&") if kv and not kv.startswith("format="))
    url = f"{base}/tiles/v1/{path}/{{z}}/{{x}}/{{y}}.{fmt}" + (f"?{params}" if params else "")
    w, s, e, n = bounds
    maxzoom = max_zoom_for(pixel_metres)
    return {
        "tilejson": "2.2.0",
        "name": name,
        "version": "1.0.0",
        "scheme": "xyz",
        "tiles": [url],
        "minzoom": 0,
        "maxzoom": maxzoom,
        "bounds": bounds,
        "center": [(w + e) / 2, (s + n) / 2, max(0, min(maxzoom, maxzoom - 4))],
    }


@router.get("/images/{image_id:path}/tilejson.json")
def image_tilejson(request: Request, state: StateDep, p: TilePrincipalDep, image_id: str) -> dict:
    bounds, pixel = _catalog(state).image_extent(p, image_id)
    path = f"images/{quote(image_id, safe=':')}"
    return _tilejson(request, state, path, image_id, bounds, pixel)


@router.get("/products/{pid:path}/tilejson.json")
def product_tilejson(request: Request, state: StateDep, p: TilePrincipalDep, pid: str) -> dict:
    bounds, pixel = _catalog(state).product_extent(p, pid)
    return _tilejson(request, state, f"products/{quote(pid, safe=':')}", pid, bounds, pixel)

"""XYZ tiles and TileJSON, mounted at ``/tiles/v1``.

Tiles render in a worker thread (GDAL off the event loop) once one of the app's tile slots is
free (slots of their own: a tile never waits behind large raster reads). The catalog lookups of
a tile share one read transaction. A tile answers with an ETag built from what it draws
(images, bands, parameters), so an unchanged tile costs a catalog lookup and a 304, not a render. ``?token=`` works like the Authorization header, which is
what makes a tile URL usable as an XYZ layer in QGIS or any web map.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from rastercat.api.deps import StateDep, TilePrincipalDep
from rastercat.api.routes.uploads import public_base
from rastercat.api.state import AppState
from rastercat.catalog.tile_layers import TileCatalog, TileLayer, max_zoom_for
from rastercat.protocol.dl017.requests import TILE_MEDIA_TYPES, TileParams, TileStyle, tile_format
from rastercat.raster.tiles import empty_tile, render_tile

router = APIRouter()

#: Tiles depend on the caller's permissions: private caches only, revalidated after a minute.
CACHE_CONTROL = "private, max-age=60"


def _catalog(state: AppState) -> TileCatalog:
    return state.tiles


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
    return Response(content, media_type=TILE_MEDIA_TYPES[style.fmt], headers=headers)


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
    tile = TileParams.parse(z, x, y, fmt, bands=bands, colormap=colormap, rescale=rescale,
                            resampling=resampling, tilesize=tilesize)  # fmt: skip
    style = tile.style
    return await state.tile_slots.run(_image_tile, request, state, p, image_id, style, z, x, y)


def _image_tile(request: Request, state: Any, p: Any, image_id: str, style: TileStyle, z: int,
                x: int, y: int) -> Response:  # fmt: skip
    with state.repo.snapshot(end_later=True):
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
    tile = TileParams.parse(z, x, y, fmt, bands=bands, colormap=colormap, rescale=rescale,
                            resampling=resampling, tilesize=tilesize)  # fmt: skip
    style = tile.style
    where = (order, start_datetime, end_datetime)
    return await state.tile_slots.run(_product_tile, request, state, p, pid, style, z, x, y, where)


def _product_tile(request: Request, state: Any, p: Any, pid: str, style: TileStyle, z: int,
                  x: int, y: int, where: tuple[str, str | None, str | None]) -> Response:  # fmt: skip
    order, start, end = where
    with state.repo.snapshot(end_later=True):
        layer = _catalog(state).product_layer(p, pid, z, x, y, style, order=order, start=start,
                                              end=end)  # fmt: skip
    return _tile_response(request, layer, style, z, x, y)


def _tilejson(request: Request, state: Any, path: str, name: str, bounds: list[float],
              pixel_metres: float | None) -> dict:  # fmt: skip
    base = public_base(request, state.settings.public_url)
    query = request.url.query
    fmt = tile_format(request.query_params.get("format", "png"))
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

"""The catalog side of XYZ tiles and the viewer: what a tile layer draws, permission-checked.

A layer is one image, or a product mosaic whose images come from the Metadata search (so the same
read permission applies) over the tile's WGS84 bounds, newest on top unless asked otherwise.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from rastercat.catalog.access import can_read
from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.principal import Principal
from rastercat.catalog.sources import band_info, source_image
from rastercat.errors import InvalidInput
from rastercat.protocol.dl017.requests import TileStyle
from rastercat.raster.colormaps import Colormap, colormap_from_band
from rastercat.raster.tiles import check_tile
from rastercat.raster.types import BandInfo, SourceImage
from rastercat.store.objects import ObjectStore
from rastercat.store.read_ports import ViewerReads
from rastercat.store.sql.viewer import SqlViewerReads

#: A product tile draws at most this many images (the newest ones when more intersect it).
MAX_IMAGES_PER_TILE = 64
ORDERS = ("newest", "oldest")


@dataclass(frozen=True)
class TileLayer:
    """What one tile draws: sources bottom to top, the bands shown, and how to colour them."""

    sources: list[SourceImage]
    bands: list[BandInfo]
    alpha: BandInfo | None
    colormap: Colormap | None
    etag: str
    """Changes when any drawn image, band description or rendering parameter changes."""


def tile_lonlat_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """``(west, south, east, north)`` of an XYZ Web Mercator tile."""
    check_tile(z, x, y)  # before 2.0**z and sinh overflow
    n = 2.0**z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


class TileCatalog:
    """Resolves tile layers for a principal; never touches pixels."""

    def __init__(
        self, metadata: MetadataService, objects: ObjectStore, reads: ViewerReads | None = None
    ) -> None:
        self.metadata = metadata
        self.objects = objects
        self.reads: ViewerReads = reads if reads is not None else SqlViewerReads(metadata.repo)

    # bands and colormaps ---------------------------------------------------------------------
    def _bands(
        self, p: Principal, pid: str, style: TileStyle
    ) -> tuple[list[BandInfo], BandInfo | None, Colormap | None, list[dict[str, Any]]]:
        rows = {b["name"]: b for b in self.metadata.bands_of_product(p, pid)}
        if not rows:
            raise InvalidInput(f"product {pid!r} has no bands", field="bands")
        names = list(style.bands) or [default_band(rows)]
        unknown = [n for n in names if n not in rows]
        if unknown:
            raise InvalidInput(
                f"unknown band(s) {', '.join(map(repr, unknown))}; the product has "
                f"{', '.join(rows)}",
                field="bands",
            )
        if len(names) not in (1, 3):
            raise InvalidInput("a tile shows 1 band or 3 bands (RGB)", field="bands")
        bands = [band_info(rows[n]) for n in names]
        alpha_row = next((r for r in rows.values() if band_info(r).is_alpha), None)
        alpha = (
            band_info(alpha_row)
            if alpha_row is not None and alpha_row["name"] not in names
            else None
        )
        cmap = style.colormap
        if cmap is None and len(bands) == 1:
            cmap = colormap_from_band(bands[0].facts["attrs"])
        used = [rows[n] for n in names] + ([alpha_row] if alpha is not None and alpha_row else [])
        return bands, alpha, cmap, used

    # layers ----------------------------------------------------------------------------------
    def image_layer(self, p: Principal, image_id: str, style: TileStyle) -> TileLayer:
        row = self.metadata.get_image(p, image_id)
        bands, alpha, cmap, band_rows = self._bands(p, row["product_id"], style)
        sources = [source_image(row, self.objects)] if _has_pixels(row) else []
        return TileLayer(sources, bands, alpha, cmap, _etag([row], band_rows, style, ""))

    def product_layer(
        self,
        p: Principal,
        pid: str,
        z: int,
        x: int,
        y: int,
        style: TileStyle,
        *,
        order: str = "newest",
        start: str | None = None,
        end: str | None = None,
    ) -> TileLayer:
        if order not in ORDERS:
            raise InvalidInput(f"'order' must be one of {', '.join(ORDERS)}", field="order")
        # The bands lookup checks that the caller may read the product (one query less per tile).
        bands, alpha, cmap, band_rows = self._bands(p, pid, style)
        w, s, e, n = tile_lonlat_bounds(z, x, y)
        body: dict[str, Any] = {
            "products": [pid],
            "geom": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
            # The images drawn last end up on top: search the top ones first, then reverse.
            "sort_order": "desc" if order == "newest" else "asc",
        }
        if start:
            body["start_datetime"] = start
        if end:
            body["end_datetime"] = end
        top_first: list[dict[str, Any]] = []
        for row in self.metadata.iter_matches(p, body, wanted=MAX_IMAGES_PER_TILE):
            if _has_pixels(row):
                top_first.append(row)
                if len(top_first) >= MAX_IMAGES_PER_TILE:
                    break
        rows = top_first[::-1]
        sources = [source_image(r, self.objects) for r in rows]
        extra = json.dumps([order, start, end])
        return TileLayer(sources, bands, alpha, cmap, _etag(rows, band_rows, style, extra))

    # TileJSON facts ----------------------------------------------------------------------------
    def image_extent(self, p: Principal, image_id: str) -> tuple[list[float], float | None]:
        """WGS84 bounds and pixel size (metres, roughly) of one readable image."""
        row = self.metadata.get_image(p, image_id)
        return _row_bounds(row), _pixel_metres(row)

    def product_extent(self, p: Principal, pid: str) -> tuple[list[float], float | None]:
        """WGS84 bounds of the caller's readable images of a product, and the pixel size of the
        newest one. Only images the caller may read count: the extent leaks nothing else."""
        product = self.metadata.get_product(p, pid)
        box: list[float] | None = None
        for row in self.reads.image_boxes(product["uid"]):
            if not can_read(p, row):
                continue
            minx, miny, maxx, maxy = row["minx"], row["miny"], row["maxx"], row["maxy"]
            if box is None:
                box = [minx, miny, maxx, maxy]
            else:
                box = [min(box[0], minx), min(box[1], miny), max(box[2], maxx), max(box[3], maxy)]
        bounds = [-180.0, -85.0511, 180.0, 85.0511] if box is None else [float(v) for v in box]
        newest = next(
            iter(
                self.metadata.iter_matches(p, {"products": [pid], "sort_order": "desc"}, wanted=1)
            ),
            None,
        )
        return bounds, _pixel_metres(newest) if newest else None


def default_band(rows: dict[str, dict[str, Any]]) -> str:
    """The band a layer shows when none is asked for: the first that is not alpha."""
    for name, row in rows.items():
        if not band_info(row).is_alpha:
            return name
    return next(iter(rows))


def _has_pixels(row: dict[str, Any]) -> bool:
    return bool(row["storage_key"]) and bool(row["attrs"].get("wkt"))


def _etag(rows: list[dict[str, Any]], bands: list[dict[str, Any]], style: TileStyle,
          extra: str) -> str:  # fmt: skip
    h = hashlib.sha1()
    for r in rows:
        h.update(f"{r['id']}|{r['storage_key']}|{r['modified']}\n".encode())
    for b in bands:
        h.update(f"{b['id']}|{b['modified']}\n".encode())
    h.update(style.key().encode())
    h.update(extra.encode())
    return f'"{h.hexdigest()[:32]}"'


def _row_bounds(row: dict[str, Any]) -> list[float]:
    if row.get("minx") is None:
        return [-180.0, -85.0511, 180.0, 85.0511]
    return [float(row["minx"]), float(row["miny"]), float(row["maxx"]), float(row["maxy"])]


def _pixel_metres(row: dict[str, Any]) -> float | None:
    """The pixel size in metres, from the WGS84 extent and the width: enough to pick a max zoom."""
    size = row["attrs"].get("raster_size")
    if row.get("minx") is None or not size or not size[0]:
        return None
    mid_lat = math.radians((float(row["miny"]) + float(row["maxy"])) / 2)
    width_m = (float(row["maxx"]) - float(row["minx"])) * 111_320.0 * math.cos(mid_lat)
    return width_m / float(size[0]) or None


def max_zoom_for(pixel_metres: float | None, tilesize: int = 256) -> int:
    """The first zoom whose tile pixels are finer than the data's (capped at 22)."""
    if not pixel_metres:
        return 18
    world = 2 * math.pi * 6378137.0
    z = math.ceil(math.log2(world / (tilesize * pixel_metres)))
    return max(0, min(22, z))

"""Typed requests of the catalog protocol, parsed once at the edge, before any work.

Each rule is written once here and used by every route it applies to: the ``fields`` of a metadata answer (:func:`parse_fields`), the
tile parameters (:class:`TileParams`, like TiTiler's dependency classes; the tile size limits are
the raster engine's, :data:`rastercat.raster.tiles.MIN_TILESIZE`/``MAX_TILESIZE``). Counts and
continuation tokens are checked by :mod:`rastercat.protocol.dl017.continuation`; a body that is
not a JSON object by :func:`rastercat.protocol.bodies.json_object`.

No HTTP framework here: the routes declare the parameters and hand them to these parsers; a
refused value is an :class:`~rastercat.errors.InvalidInput` naming its field, which the API
answers with its one error document.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rastercat.errors import InvalidInput
from rastercat.protocol.bodies import json_object

if TYPE_CHECKING:
    from rastercat.raster.colormaps import Colormap

TILE_MEDIA_TYPES = {
    "png": "image/png", "webp": "image/webp", "jpg": "image/jpeg", "jpeg": "image/jpeg",
}  # fmt: skip
"""Tile formats, and the media type each is served as."""


def parse_fields(value: Any) -> list[str] | None:
    """The ``fields`` of a metadata answer: property names to keep (None: all of them)."""
    if value is not None and (
        not isinstance(value, list) or not all(isinstance(f, str) for f in value)
    ):
        raise InvalidInput("'fields' must be a list of property names", field="fields")
    return value


@dataclass(frozen=True)
class SearchRequest:
    """A metadata search (``POST /metadata/v1/search``): what the route answers with, parsed.

    The search criteria (products, area, dates, query, sort, paging) are checked by the
    Metadata service, which takes the body as the protocol defines it (STAC searches and point
    queries run the same machinery); this model holds what the route itself uses."""

    body: dict[str, Any]
    fields: list[str] | None = None
    """Property names each feature keeps (None: every property)."""

    @classmethod
    def parse(cls, body: Any) -> SearchRequest:
        body = json_object(body)
        return cls(body=body, fields=parse_fields(body.get("fields")))


# Tiles ----------------------------------------------------------------------------------------
def tile_format(fmt: str) -> str:
    if fmt not in TILE_MEDIA_TYPES:
        raise InvalidInput(f"unknown tile format {fmt!r}; use png, webp or jpg", field="format")
    return fmt


def parse_bands(values: Sequence[str]) -> tuple[str, ...]:
    """``?bands=red&bands=green`` or ``?bands=red,green,blue``."""
    return tuple(n.strip() for v in values for n in v.split(",") if n.strip())


def parse_rescale(values: Sequence[str]) -> tuple[tuple[float, float], ...]:
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
    from rastercat.raster.colormaps import named_colormap

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


@dataclass(frozen=True)
class TileStyle:
    """Rendering parameters of a request, already parsed."""

    bands: tuple[str, ...] = ()
    colormap: Colormap | None = None
    rescale: tuple[tuple[float, float], ...] = ()
    resampling: str = "near"
    fmt: str = "png"
    tilesize: int = 256

    def key(self) -> str:
        return json.dumps(
            [self.bands, sorted((self.colormap or {}).items()), self.rescale, self.resampling,
             self.fmt, self.tilesize],
            default=list,
        )  # fmt: skip


@dataclass(frozen=True)
class TileParams:
    """An XYZ tile request: the tile, then how to draw it. :meth:`parse` checks in the order the
    answers always did (tile, format, size, colormap, rescale) and names the refused field."""

    z: int
    x: int
    y: int
    style: TileStyle

    @classmethod
    def parse(
        cls, z: int, x: int, y: int, fmt: str, *, bands: Sequence[str] = (),
        colormap: str | None = None, rescale: Sequence[str] = (), resampling: str = "near",
        tilesize: int = 256,
    ) -> TileParams:  # fmt: skip
        from rastercat.raster.tiles import check_tile, check_tilesize

        check_tile(z, x, y)  # before any arithmetic on the tile
        fmt = tile_format(fmt.lower())
        check_tilesize(tilesize)
        style = TileStyle(
            bands=parse_bands(bands),
            colormap=parse_colormap(colormap),
            rescale=parse_rescale(rescale),
            resampling=resampling,
            fmt=fmt,
            tilesize=tilesize,
        )
        return cls(z, x, y, style)

"""Band colormaps: the catalog's ``colormap`` (256 ``[r, g, b, a]``, often strings) or ``colormap_name``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rastercat.errors import InvalidInput

Colormap = dict[int, tuple[int, int, int, int]]

#: Catalog colormap names that rio-tiler knows under the same name. ``msw`` (a Descartes Labs
#: palette) has no published definition, so it renders as grey.
NAMED = ("magma", "viridis", "plasma", "inferno")


def named_colormap(name: str) -> Colormap:
    from rio_tiler.colormap import cmap

    try:
        table = cmap.get(name.lower())
    except Exception:
        raise InvalidInput(f"Unknown colormap {name!r}", field="colormap") from None
    # rio-tiler's named maps are 256-entry {value: rgba} dicts of numpy integers: make them plain.
    out: Colormap = {}
    items: dict[Any, Any] = dict(table)
    for k, v in items.items():
        r, g, b, a = (int(c) for c in v)
        out[int(k)] = (r, g, b, a)
    return out


def _entry(value: Any) -> tuple[int, int, int, int]:
    rgba = [int(float(v)) for v in value]
    if len(rgba) == 3:
        rgba.append(255)
    if len(rgba) != 4 or not all(0 <= v <= 255 for v in rgba):
        raise ValueError(f"not an [r, g, b, a] entry: {value!r}")
    return rgba[0], rgba[1], rgba[2], rgba[3]


def colormap_from_band(band_metadata: Mapping[str, Any]) -> Colormap | None:
    """A band's colormap as ``{value: (r, g, b, a)}``, or None when it has none (or a broken one)."""
    entries = band_metadata.get("colormap")
    if entries:
        try:
            return {i: _entry(v) for i, v in enumerate(entries)}
        except (TypeError, ValueError):
            return None  # a malformed stored colormap renders as grey rather than failing the tile
    name = band_metadata.get("colormap_name")
    if name:
        try:
            return named_colormap(str(name))
        except InvalidInput:
            return None
    return None

"""XYZ tiles and colormaps on real COGs."""

from __future__ import annotations

import io
from collections.abc import Callable

import morecantile
import numpy as np
import pytest
from PIL import Image
from rasterio.warp import transform

from rastercat.errors import InvalidInput
from rastercat.raster import SourceImage
from rastercat.raster.colormaps import colormap_from_band
from rastercat.raster.tiles import render_tile, tile_grid

from .conftest import UTM43, band, random_array

Cog = Callable[..., SourceImage]
TMS = morecantile.tms.get("WebMercatorQuad")


def centre_tile(src: SourceImage, z: int) -> morecantile.Tile:
    minx, miny, maxx, maxy = src.bounds
    (lon,), (lat,) = transform(UTM43, "EPSG:4326", [(minx + maxx) / 2], [(miny + maxy) / 2])
    return TMS.tile(lon, lat, z)


def rgba(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def test_tile_inside_the_image_has_opaque_pixels(cog: Cog) -> None:
    src = cog(random_array("uint16", (1, 48, 64)) % 10000 + 1)
    t = centre_tile(src, 14)
    png = render_tile([src], [band("b1", data_range=(0, 10000))], t.z, t.x, t.y)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
    px = rgba(png)
    assert px.shape == (256, 256, 4)
    assert (px[..., 3] == 255).any()
    assert (px[..., 3] == 0).any()  # the image is smaller than a z14 tile: the rest is transparent


def test_low_zoom_tile_reads_overviews(cog: Cog) -> None:
    src = cog(random_array("uint16", (1, 48, 64)) + 1)
    t = centre_tile(src, 10)
    png = render_tile([src], [band("b1")], t.z, t.x, t.y)
    assert png is not None and (rgba(png)[..., 3] == 255).any()


def test_tile_outside_every_source_is_none(cog: Cog) -> None:
    src = cog(random_array("uint16", (1, 48, 64)))
    assert render_tile([src], [band("b1")], 16, 0, 0) is None


def test_colormap_is_applied(cog: Cog) -> None:
    src = cog(np.full((1, 48, 64), 5, "uint8"))
    t = centre_tile(src, 16)
    cmap = colormap_from_band({"colormap": [["0", "0", "0", "0"]] * 5 + [["255", "0", "0", "255"]]})
    px = rgba(render_tile([src], [band("b1", "Byte")], t.z, t.x, t.y, colormap=cmap))
    opaque = px[..., 3] == 255
    assert opaque.any()
    assert (px[opaque][:, :3] == [255, 0, 0]).all()
    named = render_tile([src], [band("b1", "Byte")], t.z, t.x, t.y, colormap="magma")
    assert named is not None


def test_rgb_tile_with_rescale(cog: Cog) -> None:
    arr = np.stack([np.full((48, 64), v, "uint16") for v in (1000, 2000, 3000)])
    src = cog(arr, ("r", "g", "b"))
    t = centre_tile(src, 16)
    png = render_tile([src], [band("r"), band("g"), band("b")], t.z, t.x, t.y, rescale=[(0, 3000)])
    px = rgba(png)
    opaque = px[..., 3] == 255
    assert (px[opaque][:, :3] == [85, 170, 255]).all()


def test_bad_tile_requests(cog: Cog) -> None:
    src = cog(random_array("uint16", (2, 48, 64)), ("a", "b"))
    with pytest.raises(InvalidInput):
        render_tile([src], [band("a"), band("b")], 16, 0, 0)
    with pytest.raises(InvalidInput):
        tile_grid(2, 4, 0)
    with pytest.raises(InvalidInput):
        render_tile([src], [band("a")], 1, 0, 0, colormap="no-such-map")


def test_colormap_from_band_metadata() -> None:
    assert colormap_from_band({}) is None
    assert len(colormap_from_band({"colormap_name": "viridis"}) or {}) == 256
    assert colormap_from_band({"colormap_name": "msw"}) is None
    assert colormap_from_band({"colormap": [["12", "200", "3", "255"]]}) == {0: (12, 200, 3, 255)}
    assert colormap_from_band({"colormap": [["a", "b"]]}) is None

"""Tile PNGs from Pillow hold exactly the pixels rio-tiler's GDAL-encoded PNGs held: colormap,
mask as alpha, gray and RGB, and the edge values of both."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from rio_tiler.utils import render

from rastercat.raster.colormaps import named_colormap
from rastercat.raster.png import encode_png


def decoded(png: bytes) -> tuple[str, np.ndarray]:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.mode, np.asarray(image)


def sample(bands: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (bands, 64, 48), dtype=np.uint8)
    data[:, 0, :4] = [0, 1, 254, 255]  # the ends of the range, in every band
    mask = np.where(rng.random((64, 48)) < 0.3, 0, 255).astype(np.uint8)
    mask[:, :5] = 0  # a masked edge, as a tile at an image's border has
    return data, mask


@pytest.mark.parametrize(
    ("bands", "colormap", "mode"),
    [(1, None, "LA"), (3, None, "RGBA"), (1, "magma", "RGBA"), (1, "viridis", "RGBA")],
)
def test_the_same_pixels_as_rio_tilers_render(bands: int, colormap: str | None, mode: str) -> None:
    data, mask = sample(bands, seed=bands)
    cmap = named_colormap(colormap) if colormap else None
    got_mode, got = decoded(encode_png(data, mask, cmap))
    ref_mode, ref = decoded(render(data, mask, img_format="PNG", colormap=cmap, ZLEVEL=1))
    assert (got_mode, ref_mode) == (mode, mode)
    np.testing.assert_array_equal(got, ref)
    assert (got[..., -1][mask == 0] == 0).all()  # masked pixels are transparent


def test_a_colormap_with_transparent_entries_keeps_them_transparent() -> None:
    data, mask = sample(1, seed=7)
    cmap = {i: (i, 255 - i, 0, 0 if i < 10 else 255) for i in range(256)}
    _, got = decoded(encode_png(data, mask, cmap))
    _, ref = decoded(render(data, mask, img_format="PNG", colormap=cmap))
    np.testing.assert_array_equal(got, ref)
    assert (got[..., 3][(data[0] < 10) & (mask != 0)] == 0).all()


@pytest.mark.parametrize(
    "data",
    [np.zeros((2, 8, 8), np.uint8), np.zeros((1, 8, 8), np.uint16), np.zeros((8, 8), np.uint8)],
)
def test_what_it_does_not_encode_is_refused(data: np.ndarray) -> None:
    with pytest.raises(ValueError, match="1 or 3 bands of uint8"):
        encode_png(data, np.zeros((8, 8), np.uint8))

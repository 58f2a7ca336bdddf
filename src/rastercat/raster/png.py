"""PNG encoding of tiles and thumbnails by Pillow, which releases the GIL while it compresses.

rio-tiler's ``render`` encodes through GDAL's PNG driver in a ``MemoryFile``; rasterio holds the GIL
for all of it (measured: two threads encoding 256-px tiles got 0.9-1.1x the work of one done, Pillow
1.8-1.9x). Under load a tile's encoding then stalled every other request of the process, the
event loop's included, for 2-7 ms. The pixels are the same: the colormap and the mask are applied
as rio-tiler's ``render`` applies them (its ``apply_cmap``, then the mask as alpha, 0 where masked),
and the zlib level is the tiles' level 1 (GDAL's ``ZLEVEL``).
"""

from __future__ import annotations

import io

import numpy as np

from rastercat.raster.colormaps import Colormap

ZLEVEL = 1
"""zlib level of tile PNGs: GDAL's and Pillow's default (6) was 9x slower than 1 on a magma 256-px
tile for files 15% smaller; encoding dominated a tile's time, so tiles favour the CPU (browsers
and caches keep them anyway)."""


def encode_png(data: np.ndarray, mask: np.ndarray, colormap: Colormap | None = None) -> bytes:
    """``data`` (1 or 3 bands of uint8, band first) with ``mask`` (0: no data, else shown) as
    its alpha, colormapped first when ``colormap`` is given (1 band): a gray+alpha or RGBA PNG."""
    if data.dtype != np.uint8 or data.ndim != 3 or data.shape[0] not in (1, 3):
        raise ValueError(f"encode_png takes 1 or 3 bands of uint8, not {data.shape} {data.dtype}")
    if colormap:
        from rio_tiler.colormap import apply_cmap

        data, alpha = apply_cmap(data, colormap)
        mask = np.where(mask != 0, alpha, 0).astype(np.uint8)
    pixels = np.empty((*data.shape[1:], data.shape[0] + 1), dtype=np.uint8)
    pixels[..., :-1] = np.moveaxis(data, 0, -1)
    pixels[..., -1] = mask
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", compress_level=ZLEVEL)
    return buf.getvalue()

"""The GDAL configuration every raster read runs under."""

from __future__ import annotations

from typing import Any

import rasterio

#: Reads only touch files rastercat wrote itself (COGs), but stay defensive: no sidecar probing
#: (slow on object stores) and no raw-file access from VRTs.
READ_OPTIONS: dict[str, Any] = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_VRT_ENABLE_RAWRASTERBAND": "NO",
    "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff",
    "GDAL_CACHEMAX": 256,
}


def read_env(**extra: Any) -> rasterio.Env:
    """A ``rasterio.Env`` for reading COGs; ``extra`` options override the defaults."""
    return rasterio.Env(**{**READ_OPTIONS, **extra})

"""The GDAL configuration every raster read runs under."""

from __future__ import annotations

import os
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


def operator_cachemax() -> int | None:
    """``GDAL_CACHEMAX`` from the environment, in MB, as GDAL reads it (``1024``: MB of block cache
    per process; ``10%``: of the machine's RAM); None when unset or not one of those forms.
    rasterio takes the cache size as an integer only."""
    value = os.environ.get("GDAL_CACHEMAX", "").strip()
    try:
        if value.endswith("%"):
            ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
            return max(1, int(ram_mb * float(value[:-1]) / 100))
        return int(value) if value else None
    except (ValueError, OSError):
        return None


def read_env(**extra: Any) -> rasterio.Env:
    """A ``rasterio.Env`` for reading COGs; ``extra`` options override the defaults, and an
    operator's ``GDAL_CACHEMAX`` (the environment) overrides both: the machine is theirs."""
    options = {**READ_OPTIONS, **extra}
    cachemax = operator_cachemax()
    if cachemax is not None:
        options["GDAL_CACHEMAX"] = cachemax
    return rasterio.Env(**options)

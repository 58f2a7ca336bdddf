"""rastercat: a self-hosted raster catalog.

The public API (the SDK) is loaded lazily, so ``import rastercat`` is cheap and does no work::

    import rastercat as rc
    catalog = rc.Catalog()
    scene, ctx = rc.scenes.Scene.from_id(image_id)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "Catalog": ("rastercat.client.catalog", "Catalog"),
    "Metadata": ("rastercat.client.metadata", "Metadata"),
    "Raster": ("rastercat.client.raster", "Raster"),
    "scenes": ("rastercat.client.scenes", None),
    "errors": ("rastercat.errors", None),
    "properties": ("rastercat.client.properties", "properties"),
    "load": ("rastercat.client.xarray", "load"),
}

__all__ = ["Catalog", "Metadata", "Raster", "__version__", "errors", "load", "properties", "scenes"]

if TYPE_CHECKING:  # pragma: no cover
    from rastercat import errors  # noqa: F401
    from rastercat.client import scenes  # noqa: F401
    from rastercat.client.catalog import Catalog  # noqa: F401
    from rastercat.client.metadata import Metadata  # noqa: F401
    from rastercat.client.raster import Raster  # noqa: F401
    from rastercat.client.xarray import load  # noqa: F401


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'rastercat' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

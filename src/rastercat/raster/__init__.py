"""The raster read engine: plan an output grid, mosaic COGs onto it, encode the result.

No database and no HTTP here: the API resolves image ids to :class:`SourceImage` values and bands to
:class:`BandInfo` values, then calls :func:`plan_grid`, :func:`read` and an encoder.
"""

from rastercat.raster.grid import plan_grid
from rastercat.raster.read import RasterResult, read
from rastercat.raster.request import RasterRequest
from rastercat.raster.types import BandInfo, Grid, SourceImage

__all__ = ["BandInfo", "Grid", "RasterRequest", "RasterResult", "SourceImage", "plan_grid", "read"]

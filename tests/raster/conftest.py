"""Real COGs written by GDAL's COG driver, and the catalog value objects that point at them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.crs import CRS

from rastercat.raster.types import BandInfo, SourceImage

UTM43 = CRS.from_epsg(32643)
#: The guide's 64 x 48, 15 m image.
ORIGIN = (391395.0, 5596530.0)
TRANSFORM = Affine(15.0, 0.0, ORIGIN[0], 0.0, -15.0, ORIGIN[1])


def write_cog(
    path: Path,
    array: np.ndarray,
    transform: Affine = TRANSFORM,
    crs: CRS = UTM43,
    nodata: float | None = None,
    blocksize: int = 16,
) -> Path:
    """Write ``array`` (bands, rows, cols) as a COG with overviews (small blocks force them)."""
    array = array if array.ndim == 3 else array[np.newaxis]
    tmp = path.with_suffix(".src.tif")
    profile = {
        "driver": "GTiff",
        "width": array.shape[2],
        "height": array.shape[1],
        "count": array.shape[0],
        "dtype": array.dtype.name,
        "crs": crs,
        "transform": transform,
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(array)
    rasterio.shutil.copy(
        tmp, path, driver="COG", blocksize=blocksize, overview_resampling="nearest"
    )
    tmp.unlink()
    return path


def source_for(path: Path, band_names: Sequence[str], image_id: str | None = None) -> SourceImage:
    with rasterio.open(path) as src:
        return SourceImage(
            id=image_id or path.stem,
            path=str(path),
            band_names=tuple(band_names),
            crs_wkt=src.crs.to_wkt(),
            geotrans=tuple(src.transform.to_gdal()),  # type: ignore[arg-type]
            raster_size=(src.width, src.height),
        )


def random_array(dtype: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.uniform(-1000, 1000, size=shape).astype(dt)
    info = np.iinfo(dt)
    lo, hi = max(info.min, -30000), min(info.max, 60000)
    return rng.integers(lo, hi, size=shape, endpoint=True).astype(dt)


@pytest.fixture
def cog(tmp_path: Path) -> Callable[..., SourceImage]:
    """Factory: ``cog(array, band_names, name=..., transform=..., crs=..., nodata=...)``."""
    counter = iter(range(10_000))

    def make(
        array: np.ndarray,
        band_names: Sequence[str] = ("b1",),
        name: str | None = None,
        **kwargs: object,
    ) -> SourceImage:
        name = name or f"img{next(counter)}"
        path = write_cog(tmp_path / f"{name}.tif", array, **kwargs)  # type: ignore[arg-type]
        return source_for(path, band_names, image_id=f"ns:prod:{name}")

    return make


def band(name: str, dtype: str = "UInt16", **kwargs: object) -> BandInfo:
    return BandInfo(name=name, dtype=dtype, **kwargs)  # type: ignore[arg-type]

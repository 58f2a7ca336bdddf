"""render_tile on COGs written here: overviews at low zoom, alpha, stretch and colormap order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from _tile_helpers import rgba, tile_at
from affine import Affine

from rastercat.raster.colormaps import named_colormap
from rastercat.raster.tiles import empty_tile, render_tile
from rastercat.raster.types import BandInfo, SourceImage


def write_cog(path: Path, arr: np.ndarray, transform: Affine, **profile: object) -> SourceImage:
    tmp = path.with_suffix(".src.tif")
    with rasterio.open(
        tmp, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
        dtype=arr.dtype.name, crs="EPSG:4326", transform=transform, tiled=True, **profile,
    ) as dst:  # fmt: skip
        dst.write(arr)
    rasterio.shutil.copy(tmp, path, driver="COG", blocksize=256, overview_resampling="average")
    with rasterio.open(path) as src:
        return SourceImage(
            id=f"ns:p:{path.stem}",
            path=str(path),
            band_names=tuple(f"b{i + 1}" for i in range(src.count)),
            crs_wkt=src.crs.to_wkt(),
            geotrans=tuple(src.transform.to_gdal()),  # type: ignore[arg-type]
            raster_size=(src.width, src.height),
        )


@pytest.fixture(scope="module")
def checkerboard(tmp_path_factory: pytest.TempPathFactory) -> SourceImage:
    """2048 x 2048 pixels of 0.01 degree alternating 50 and 250; its overviews average to 150."""
    rows, cols = np.indices((2048, 2048))
    arr = np.where((rows + cols) % 2 == 0, 50, 250).astype("uint8")[np.newaxis]
    path = tmp_path_factory.mktemp("ovr") / "checker.tif"
    src = write_cog(path, arr, Affine(0.01, 0, -10.0, 0, -0.01, 40.0))
    with rasterio.open(path) as ds:
        assert ds.overviews(1) == [2, 4, 8]
    return src


GREY = BandInfo("b1", "Byte", data_range=(0.0, 255.0))


def test_a_zoom_3_tile_reads_overviews_not_full_resolution(checkerboard: SourceImage) -> None:
    # Full-resolution pixels are only ever 50 or 250; averaged overviews hold 150 everywhere, so
    # a tile made of 150s was read from an overview, whatever the timing.
    png = render_tile([checkerboard], [GREY], *tile_at(0.0, 30.0, 3))
    assert png is not None
    px = rgba(png)
    opaque = px[..., 3] == 255
    assert opaque.sum() > 5000
    assert set(px[opaque][:, 0].tolist()) == {150}


def test_a_zoom_12_tile_reads_full_resolution(checkerboard: SourceImage) -> None:
    png = render_tile([checkerboard], [GREY], *tile_at(0.0, 30.0, 12))
    assert png is not None
    values = set(rgba(png)[..., 0].ravel().tolist())
    assert values == {50, 250}


def test_alpha_band_masks_the_tile(tmp_path: Path) -> None:
    arr = np.stack([np.full((256, 256), 90, "uint8"), np.full((256, 256), 255, "uint8")])
    arr[1, 128:, :] = 0
    src = write_cog(tmp_path / "a.tif", arr, Affine(0.001, 0, 10.0, 0, -0.001, 45.0))
    alpha = BandInfo("b2", "Byte", is_alpha=True)
    z, x, y = tile_at(10.128, 44.872, 12)
    masked = rgba(render_tile([src], [GREY], z, x, y, alpha=alpha) or b"")
    unmasked = rgba(render_tile([src], [GREY], z, x, y) or b"")
    assert (unmasked[..., 3] == 255).sum() > (masked[..., 3] == 255).sum() > 0
    assert set(masked[masked[..., 3] == 255][:, 0].tolist()) == {90}


def test_colormap_follows_the_declared_range(tmp_path: Path) -> None:
    src = write_cog(
        tmp_path / "c.tif",
        np.full((1, 64, 64), 1000, "uint16"),
        Affine(0.001, 0, 10, 0, -0.001, 45),
    )
    band = BandInfo("b1", "UInt16", default_range=(0.0, 2000.0), data_range=(0.0, 10000.0))
    px = rgba(render_tile([src], [band], *tile_at(10.03, 44.97, 14), colormap="magma") or b"")
    opaque = px[..., 3] == 255
    assert opaque.any() and (px[opaque] == named_colormap("magma")[128]).all()


def test_empty_tile_is_transparent() -> None:
    px = rgba(empty_tile(512, "png"))
    assert px.shape == (512, 512, 4) and (px[..., 3] == 0).all()

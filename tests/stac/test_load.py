"""``rc.load``: a lazy xarray Dataset from the STAC items (odc-stac), equal to ``Raster().ndarray``
on the same grid; nothing is read before ``.compute()``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import rastercat as rc
from stac.conftest import GEOTRANS, UTM43

pytest.importorskip("odc.stac")

DAY = "2020-05-01T00:00:00Z/2020-05-01T23:59:59Z"


@pytest.fixture
def asset_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every COG the server sends through its signed asset route (the server runs in this process)."""
    import rastercat.api.routes.stac as routes

    served: list[str] = []
    real = routes.FileResponse

    def counting(path: Any, *args: Any, **kwargs: Any) -> Any:
        served.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(routes, "FileResponse", counting)
    return served


def test_load_is_lazy_and_equals_raster_ndarray(uploaded: dict[str, Any], live_server: Any,
                                                asset_reads: list[str]) -> None:  # fmt: skip
    from odc.geo.geobox import GeoBox

    c, f = GEOTRANS[0], GEOTRANS[3]
    bounds = (c, f - 48 * 15, c + 64 * 15, f)
    grid = GeoBox.from_bbox(bounds, crs=UTM43, resolution=15)
    ds = rc.load(uploaded["pid"], bands=["red", "green"], datetime=DAY, geobox=grid,
                 url=live_server.url, token=uploaded["token"])  # fmt: skip
    assert set(ds.data_vars) == {"red", "green"} and ds.red.shape == (1, 48, 64)
    assert ds.red.chunks is not None  # dask-backed
    assert asset_reads == []  # nothing read yet
    loaded = ds.compute()
    assert asset_reads  # the pixels came through the signed URLs
    expected, _ = rc.Raster(url=live_server.url, token=uploaded["token"]).ndarray(
        uploaded["id"], bands=["red", "green"], srs=UTM43, bounds=list(bounds),
        bounds_srs=UTM43, resolution=15.0,
    )  # fmt: skip
    np.testing.assert_array_equal(loaded.red.values[0], expected[..., 0])
    np.testing.assert_array_equal(loaded.green.values[0], expected[..., 1])
    np.testing.assert_array_equal(loaded.red.values[0], uploaded["data"][0])


def test_load_with_crs_and_resolution(uploaded: dict[str, Any], live_server: Any) -> None:
    ds = rc.load(uploaded["pid"], "green", datetime=DAY, crs=UTM43, resolution=30,
                 url=live_server.url, token=uploaded["token"])  # fmt: skip
    assert ds.green.shape[0] == 1 and ds.odc.geobox.resolution.x == 30
    assert int(ds.green.max().compute()) > 0


def test_load_of_nothing_is_a_clear_error(uploaded: dict[str, Any], live_server: Any) -> None:
    with pytest.raises(rc.errors.InvalidInput):
        rc.load(uploaded["pid"], datetime="1990-01-01T00:00:00Z/1990-01-02T00:00:00Z",
                url=live_server.url, token=uploaded["token"])  # fmt: skip


def test_odc_stac_and_stackstac_read_the_items(
    uploaded: dict[str, Any], live_server: Any, tmp_path: Any
) -> None:
    """The items as they are, in the two loaders people use: the same pixels as the upload.
    stackstac reads one band per asset (it refuses multi-band COGs), so it gets a 1-band product."""
    import uuid

    import odc.stac
    import rasterio
    from rasterio.transform import from_origin

    from rastercat.client.catalog import Catalog
    from rastercat.client.xarray import search_items

    stackstac = pytest.importorskip("stackstac")
    c, f = GEOTRANS[0], GEOTRANS[3]
    bounds = (c, f - 48 * 15, c + 64 * 15, f)
    items = search_items(
        uploaded["pid"], datetime=DAY, url=live_server.url, token=uploaded["token"]
    )
    via_odc = odc.stac.load(items, bands=["red", "green"], crs=UTM43, resolution=15,
                            x=(bounds[0], bounds[2]), y=(bounds[1], bounds[3])).compute()  # fmt: skip
    np.testing.assert_array_equal(via_odc.red.values[0], uploaded["data"][0])
    np.testing.assert_array_equal(via_odc.green.values[0], uploaded["data"][1])

    single = uploaded["data"][1]
    path = tmp_path / "one.tif"
    with rasterio.open(path, "w", driver="GTiff", width=64, height=48, count=1, dtype="uint16",
                       crs=UTM43, transform=from_origin(c, f, 15, 15)) as dst:  # fmt: skip
        dst.write(single, 1)
    with Catalog(url=live_server.url, token=uploaded["token"]) as catalog:
        pid = catalog.add_product(f"stac-one-{uuid.uuid4().hex[:8]}", title="t", description="d")[
            "data"
        ]["id"]
        catalog.add_band(
            pid,
            "green",
            srcband=1,
            dtype="UInt16",
            nbits=16,
            data_range=[0, 10000],
            type="spectral",
        )
        catalog.upload_image(str(path), pid, metadata={"acquired": "2020-05-01T00:00:00Z"})
        catalog.wait_for_image(pid, "one", timeout=120, poll=0.1)
    items = search_items(pid, url=live_server.url, token=uploaded["token"])
    stack = stackstac.stack(items, assets=["data"], epsg=32643, resolution=15, bounds=bounds,
                            dtype="float64", rescale=False, fill_value=np.nan)  # fmt: skip
    np.testing.assert_array_equal(stack.isel(time=0, band=0).compute().values, single)

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

"""process() on .npy uploads: bands-last arrays with the georeferencing given alongside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from _ingest_helpers import noisy
from rio_cogeo import cog_validate

from rastercat.errors import IngestError
from rastercat.ingest import BandSpec, IngestRequest, process

GEOTRANS = (391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0)
WKT_UTM43 = rasterio.crs.CRS.from_epsg(32643).to_wkt()


def save(tmp_path: Path, arr: np.ndarray, name: str = "bright.npy") -> Path:
    path = tmp_path / name
    np.save(path, arr, allow_pickle=False)
    return path


def test_2d_array(tmp_path, work_dir, limits):
    arr = noisy((300, 280), "uint16")
    req = IngestRequest(
        "ndarray",
        (save(tmp_path, arr),),
        (BandSpec("bright", 1, type="mask"),),
        geotrans=GEOTRANS,
        crs="+proj=utm +zone=43 +datum=WGS84 +units=m +no_defs",
    )
    res = process(req, work_dir, limits)
    with rasterio.open(res.cog_path) as cog:
        assert np.array_equal(cog.read(1), arr)
        assert cog.transform.to_gdal() == GEOTRANS
        assert cog.crs.to_epsg() == 32643
        assert cog.overviews(1) == [2]  # automatic: 300 -> 150
    assert res.attributes["cs_code"] == "EPSG:32643"
    assert res.attributes["raster_size"] == [280, 300]
    assert "(nearest)" in res.log[1]


def test_3d_array_bands_last_with_requested_overviews(tmp_path, work_dir, limits):
    arr = noisy((3, 256, 200), "float32").transpose(1, 2, 0).copy()  # (rows, cols, bands)
    req = IngestRequest(
        "ndarray",
        (save(tmp_path, arr),),
        (BandSpec("c", 3, dtype="Float32"), BandSpec("a", 1, dtype="Float32")),
        geotrans=GEOTRANS,
        crs=WKT_UTM43,
        overviews=(2, 4),
        overview_resampler="average",
    )
    res = process(req, work_dir, limits)
    assert res.band_names == ("c", "a")
    assert cog_validate(str(res.cog_path))[0]
    with rasterio.open(res.cog_path) as cog:
        assert np.array_equal(cog.read(1), arr[..., 2]) and np.array_equal(cog.read(2), arr[..., 0])
        assert cog.overviews(1) == [2, 4]
        ovr = cog.read(2, out_shape=(64, 50))  # factor 4 overview
        expected = arr[..., 0].reshape(64, 4, 50, 4).mean(axis=(1, 3))
        assert np.allclose(ovr, expected, rtol=1e-5)
        assert cog.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "3"


def test_3d_array_odd_factor_and_mode(tmp_path, work_dir, limits):
    arr = (noisy((90, 90, 1), "uint8") // 50).astype("uint8")
    req = IngestRequest(
        "ndarray",
        (save(tmp_path, arr),),
        (BandSpec("cls", 1, dtype="Byte", type="class", nodata=255),),
        geotrans=GEOTRANS,
        crs="EPSG:32643",
        overviews=(3,),
        overview_resampler="mode",
    )
    res = process(req, work_dir, limits)
    with rasterio.open(res.cog_path) as cog:
        assert cog.overviews(1) == [3] and cog.nodata == 255
        assert np.array_equal(cog.read(1), arr[..., 0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"geotrans": None}, "needs a geotrans"),
        ({"crs": None}, "needs a coordinate reference system"),
        ({"crs": "+proj=nonsense"}, "cannot understand the coordinate reference system"),
        ({"geotrans": (1.0, 2.0, 3.0)}, "6 numbers"),
        ({"geotrans": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)}, "zero pixel size"),
        ({"geotrans": (0.0, float("nan"), 0.0, 0.0, 0.0, -1.0)}, "not finite"),
        ({"overviews": (2,) * 17}, "at most 16"),
        ({"overviews": (1,)}, "integers >= 2"),
        ({"overview_resampler": "bilinear-ish"}, "unknown overview_resampler"),
    ],
)
def test_bad_georeferencing_and_options(tmp_path, work_dir, limits, kwargs, message):
    base = {"geotrans": GEOTRANS, "crs": "EPSG:32643"}
    base.update(kwargs)
    req = IngestRequest(
        "ndarray", (save(tmp_path, noisy((20, 20), "uint16")),), (BandSpec("b", 1),), **base
    )
    with pytest.raises(IngestError, match=message):
        process(req, work_dir, limits)
    assert list(work_dir.iterdir()) == []


def _req(path: Path, band: BandSpec | None = None) -> IngestRequest:
    return IngestRequest(
        "ndarray", (path,), (band or BandSpec("b", 1),), geotrans=GEOTRANS, crs="EPSG:32643"
    )


def test_object_array_rejected(tmp_path, work_dir, limits):
    path = tmp_path / "obj.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(IngestError, match="not a valid .npy array file"):
        process(_req(path), work_dir, limits)
    assert list(work_dir.iterdir()) == []


def test_pickle_rejected(tmp_path, work_dir, limits):
    import pickle

    path = tmp_path / "evil.npy"
    path.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(IngestError, match="not a valid .npy array file"):
        process(_req(path), work_dir, limits)


@pytest.mark.parametrize("dtype", ["complex64", "int64", "bool", "float16"])
def test_unsupported_array_dtype(tmp_path, work_dir, limits, dtype):
    path = save(tmp_path, np.zeros((8, 8), dtype))
    with pytest.raises(IngestError, match="unsupported array data type"):
        process(_req(path), work_dir, limits)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (10,), ()])
def test_wrong_array_shape(tmp_path, work_dir, limits, shape):
    path = save(tmp_path, np.zeros(shape, "uint16"))
    with pytest.raises(IngestError, match="is not \\(rows, cols\\)"):
        process(_req(path), work_dir, limits)


def test_srcband_beyond_array_bands(tmp_path, work_dir, limits):
    path = save(tmp_path, np.zeros((8, 8, 2), "uint16"))
    with pytest.raises(
        IngestError, match="wants srcband 3 but file 0 \\(bright.npy\\) has 2 bands"
    ):
        process(_req(path, BandSpec("b", 3)), work_dir, limits)


def test_declared_size_over_limit(tmp_path, work_dir, limits):
    path = save(tmp_path, np.zeros((8, 8, 2), "uint16"))
    small = limits.model_copy(update={"max_decoded_bytes": 100})
    with pytest.raises(IngestError, match="at most 100 bytes"):
        process(_req(path), work_dir, small)

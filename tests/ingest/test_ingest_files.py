"""process() on GeoTIFF and JPEG2000 uploads: pixels, georeferencing and metadata survive."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import rasterio
from _ingest_helpers import UTM43_TRANSFORM, noisy
from rasterio.enums import ColorInterp
from rio_cogeo import cog_validate

from rastercat.ingest import BandSpec, IngestRequest, process


def run(files: list[Path], bands: list[BandSpec], work_dir: Path, limits, **kw):
    return process(IngestRequest("file", tuple(files), tuple(bands), **kw), work_dir, limits)


def test_single_band_uint16_pixels_and_georef_identical(write_tif, work_dir, limits):
    arr = noisy((1, 700, 650), "uint16")
    src = write_tif("blue.tif", arr)
    lines: list[str] = []
    res = process(
        IngestRequest("file", (src,), (BandSpec("blue", 1),)), work_dir, limits, log=lines.append
    )
    assert res.cog_path.parent == work_dir and res.cog_path.exists()
    assert [p.name for p in work_dir.iterdir()] == [res.cog_path.name]
    assert res.band_names == ("blue",)
    assert list(res.log) == lines and any("copied from file 0" in line for line in lines)
    with rasterio.open(res.cog_path) as cog:
        assert cog.read().tolist() == arr.tolist()
        assert cog.transform == UTM43_TRANSFORM
        assert cog.crs.to_epsg() == 32643
        assert cog.overviews(1) == [2, 4]  # 700 -> 350 -> 175 (<= 256)
        assert cog.compression.name == "zstd"
        assert cog.tags(ns="IMAGE_STRUCTURE")["PREDICTOR"] == "2"
    assert cog_validate(str(res.cog_path))[0]
    a = res.attributes
    assert a["proj4"] == "+proj=utm +zone=43 +datum=WGS84 +units=m +no_defs"
    assert a["cs_code"] == "EPSG:32643"
    assert rasterio.crs.CRS.from_wkt(a["wkt"]).to_epsg() == 32643
    assert a["geotrans"] == [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0]
    assert a["raster_size"] == [650, 700]
    assert a["file_sizes"] == [src.stat().st_size]
    assert a["file_md5s"] == [hashlib.md5(src.read_bytes()).hexdigest()]
    assert a["cog_size"] == res.cog_path.stat().st_size
    assert a["cog_md5"] == hashlib.md5(res.cog_path.read_bytes()).hexdigest()
    assert "acquired" not in a
    assert a["geometry"]["type"] == "Polygon"
    lon, lat = np.array(a["geometry"]["coordinates"][0]).T
    assert 73 < lon.min() < lon.max() < 74 and 50 < lat.min() < lat.max() < 51


def test_three_band_file_reordered_and_subset(write_tif, work_dir, limits):
    arr = noisy((3, 300, 280), "uint8")
    src = write_tif("rgb.tif", arr)
    bands = [BandSpec("blue", 3, dtype="Byte"), BandSpec("red", 1, dtype="Byte")]
    res = run([src], bands, work_dir, limits)
    assert res.band_names == ("blue", "red")
    with rasterio.open(res.cog_path) as cog:
        assert cog.count == 2 and cog.dtypes == ("uint8", "uint8")
        assert np.array_equal(cog.read(1), arr[2]) and np.array_equal(cog.read(2), arr[0])
        assert cog.overviews(1) == [2]


def test_three_band_file_in_order_is_copied_straight(write_tif, work_dir, limits):
    arr = noisy((3, 200, 210), "uint16")
    src = write_tif("rgb.tif", arr)
    bands = [BandSpec(n, i) for i, n in enumerate(["red", "green", "blue"], start=1)]
    res = run([src], bands, work_dir, limits)
    assert any("copied from" in line for line in res.log)
    with rasterio.open(res.cog_path) as cog:
        assert np.array_equal(cog.read(), arr)
        assert cog.overviews(1) == []  # already small


def test_multi_file_scene_with_widening(write_tif, work_dir, limits):
    a = noisy((1, 260, 300), "uint8", seed=1)
    b = noisy((2, 260, 300), "uint16", seed=2)
    fa = write_tif("cloud-mask.tif", a)
    fb = write_tif("bright.tif", b)
    bands = [
        BandSpec("cloud-mask", 1, srcfile=0, dtype="UInt16", type="mask", nodata=0),
        BandSpec("bright", 2, srcfile=1, dtype="UInt16"),
    ]
    res = run([fa, fb], bands, work_dir, limits)
    assert res.band_names == ("cloud-mask", "bright")
    with rasterio.open(res.cog_path) as cog:
        assert cog.dtypes == ("uint16", "uint16")
        assert np.array_equal(cog.read(1), a[0].astype("uint16"))
        assert np.array_equal(cog.read(2), b[1])
        assert cog.overviews(1) == [2]
        assert cog.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "2"
    assert "(nearest)" in res.log[2]  # a mask band forces nearest overviews
    assert res.attributes["file_sizes"] == [fa.stat().st_size, fb.stat().st_size]


def test_mixed_band_dtypes_share_the_widest(write_tif, work_dir, limits):
    a = noisy((1, 64, 64), "uint8")
    b = noisy((1, 64, 64), "int16")
    fa, fb = write_tif("a.tif", a), write_tif("b.tif", b)
    bands = [BandSpec("m", 1, 0, dtype="Byte"), BandSpec("t", 1, 1, dtype="Int16")]
    res = run([fa, fb], bands, work_dir, limits)
    with rasterio.open(res.cog_path) as cog:
        assert cog.dtypes == ("int16", "int16")
        assert np.array_equal(cog.read(1), a[0]) and np.array_equal(cog.read(2), b[0])


@pytest.mark.parametrize(
    ("np_dtype", "band_dtype", "predictor"),
    [
        ("uint8", "Byte", "2"),
        ("uint16", "UInt16", "2"),
        ("int16", "Int16", "2"),
        ("uint32", "UInt32", "2"),
        ("int32", "Int32", "2"),
        ("float32", "Float32", "3"),
        ("float64", "Float64", "3"),
        ("int8", "Int16", "2"),  # int8 has no catalog dtype: widened
    ],
)
def test_every_dtype(write_tif, work_dir, limits, np_dtype, band_dtype, predictor):
    arr = noisy((1, 40, 50), np_dtype)
    src = write_tif("x.tif", arr)
    res = run([src], [BandSpec("x", 1, dtype=band_dtype)], work_dir, limits)
    with rasterio.open(res.cog_path) as cog:
        assert np.array_equal(cog.read(1), arr[0])
        assert cog.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == predictor


def test_nodata_kept_and_footprint_smaller_than_bbox(write_tif, work_dir, limits):
    n = 400
    arr = noisy((1, n, n), "uint16") + 1
    yy, xx = np.mgrid[0:n, 0:n]
    diamond = np.abs(yy - n / 2) + np.abs(xx - n / 2) <= n / 2
    arr[0][~diamond] = 0
    src = write_tif("d.tif", arr, nodata=0)
    res = run([src], [BandSpec("b", 1, nodata=0)], work_dir, limits)
    with rasterio.open(res.cog_path) as cog:
        assert cog.nodata == 0
        assert np.array_equal(cog.read(1), arr[0])
    from shapely.geometry import box, shape

    geom = shape(res.attributes["geometry"])
    assert geom.is_valid
    ratio = geom.area / box(*geom.bounds).area
    assert 0.45 < ratio < 0.55  # a diamond fills half of its bounding box


def test_nodata_from_band_spec_applied_when_file_has_none(write_tif, work_dir, limits):
    from rasterio.warp import transform_bounds

    arr = noisy((1, 100, 100), "uint16") + 1
    arr[0, :, :50] = 0
    src = write_tif("half.tif", arr)
    res = run([src], [BandSpec("b", 1, nodata=0)], work_dir, limits)
    with rasterio.open(res.cog_path) as cog:
        assert cog.nodata == 0
        west, _, east, _ = transform_bounds(cog.crs, "EPSG:4326", *cog.bounds)
    lon = np.array(res.attributes["geometry"]["coordinates"][0])[:, 0]
    # The western half is nodata: the footprint starts near the middle.
    assert abs(lon.min() - (west + east) / 2) < 0.05 * (east - west)
    assert abs(lon.max() - east) < 0.05 * (east - west)


def test_rotated_raster_footprint_smaller_than_bbox(write_tif, work_dir, limits):
    from affine import Affine
    from shapely.geometry import box, shape

    rotated = UTM43_TRANSFORM @ Affine.rotation(30)
    src = write_tif("rot.tif", noisy((1, 100, 100), "uint16"), transform=rotated)
    res = run([src], [BandSpec("b", 1)], work_dir, limits)
    geom = shape(res.attributes["geometry"])
    assert geom.area / box(*geom.bounds).area < 0.8


def test_alpha_band_kept(write_tif, work_dir, limits):
    rgb = noisy((3, 120, 130), "uint8")
    alpha = np.full((1, 120, 130), 255, "uint8")
    alpha[0, :60] = 0
    src = write_tif("rgba.tif", np.concatenate([rgb, alpha]))
    bands = [BandSpec(n, i, dtype="Byte") for i, n in enumerate(["r", "g", "b"], 1)]
    bands.append(BandSpec("alpha", 4, dtype="Byte", type="mask"))
    res = run([src], bands, work_dir, limits)
    with rasterio.open(res.cog_path) as cog:
        # Alpha is the catalog's to say: GDAL would read a UInt16 alpha of 1 as transparent.
        assert cog.colorinterp[3] != ColorInterp.alpha
        assert np.array_equal(cog.read(4), alpha[0])
    lat = np.array(res.attributes["geometry"]["coordinates"][0])[:, 1]
    assert lat.max() - lat.min() < 0.01  # only the southern half is valid


def test_tiff_datetime_becomes_acquired(write_tif, work_dir, limits):
    src = write_tif(
        "t.tif", noisy((1, 30, 30), "uint16"), tags={"TIFFTAG_DATETIME": "2018:06:01 10:20:30"}
    )
    res = run([src], [BandSpec("b", 1)], work_dir, limits)
    assert res.attributes["acquired"] == "2018-06-01T10:20:30+00:00"


def test_jpeg2000_input(tmp_path, work_dir, limits):
    arr = noisy((2, 300, 260), "uint16")
    src = tmp_path / "scene.jp2"
    profile = {
        "driver": "JP2OpenJPEG",
        "width": 260,
        "height": 300,
        "count": 2,
        "dtype": "uint16",
        "crs": "EPSG:32643",
        "transform": UTM43_TRANSFORM,
        "quality": 100,
        "reversible": True,
    }
    with rasterio.open(src, "w", **profile) as dst:
        dst.write(arr)
    res = run([src], [BandSpec("a", 1), BandSpec("b", 2)], work_dir, limits)
    with rasterio.open(res.cog_path) as cog:
        assert cog.driver == "GTiff" and cog.transform == UTM43_TRANSFORM
        assert np.array_equal(cog.read(), arr)
    assert "JP2OpenJPEG" in res.log[0]

"""Bad uploads through the real server: each ends FAILURE with a log a user understands, no image,
no leftover file, and the server keeps serving."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _upload_helpers import band
from affine import Affine

from helpers import write_geotiff

WKT_UTM43 = "EPSG:32643"
GEOTRANS = [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0]


def noisy(shape: tuple[int, ...], dtype: str = "uint16") -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(0, 200, size=shape).astype(dtype)


def tiny_tiff(width: int, height: int) -> bytes:
    """A single-strip DEFLATE TIFF of ~500 bytes declaring ``width`` x ``height`` pixels."""
    payload = zlib.compress(b"\0" * 4096)
    tags = [
        (256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 8), (262, 3, 1),
        (273, 4, 0), (277, 3, 1), (278, 4, height), (279, 4, len(payload)),
    ]  # fmt: skip
    data_offset = 8 + 2 + 12 * len(tags) + 4
    out = bytearray(b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(tags)))
    for tag, typ, value in tags:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, 1) + packed
    return bytes(out + struct.pack("<I", 0) + payload)


def npy_bytes(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _text(tmp: Path) -> Path:
    p = tmp / "notes.tif"
    p.write_text("this is not a raster\n")
    return p


def _truncated(tmp: Path) -> Path:
    p = write_geotiff(tmp / "t.tif", noisy((1, 300, 300)))
    p.write_bytes(p.read_bytes()[:30_000])
    return p


def _corrupt(tmp: Path) -> Path:
    import rasterio

    p = tmp / "c.tif"
    arr = noisy((1, 300, 300))
    with rasterio.open(p, "w", driver="GTiff", width=300, height=300, count=1, dtype="uint16",
                       crs=WKT_UTM43, transform=Affine.from_gdal(*GEOTRANS), tiled=True,
                       compress="deflate") as dst:  # fmt: skip
        dst.write(arr)
    data = bytearray(p.read_bytes())
    start = len(data) // 2
    data[start : start + 4000] = np.random.default_rng(3).integers(0, 256, 4000, "uint8").tobytes()
    p.write_bytes(bytes(data))
    return p


def _vrt(tmp: Path) -> Path:
    p = tmp / "upload.tif"
    p.write_text(
        '<VRTDataset rasterXSize="8" rasterYSize="1">'
        "<SRS>EPSG:4326</SRS><GeoTransform>0, 1, 0, 0, 0, -1</GeoTransform>"
        '<VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">'
        '<SourceFilename relativetoVRT="0">/etc/hostname</SourceFilename>'
        "<ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset><LineOffset>8</LineOffset>"
        "</VRTRasterBand></VRTDataset>"
    )
    return p


def _bomb(tmp: Path) -> Path:
    p = tmp / "bomb.tif"
    p.write_bytes(tiny_tiff(200_000, 200_000))
    return p


def _no_georef(tmp: Path) -> Path:
    import rasterio

    p = tmp / "plain.tif"
    with rasterio.open(p, "w", driver="GTiff", width=20, height=20, count=1,
                       dtype="uint16") as dst:  # fmt: skip
        dst.write(noisy((1, 20, 20)))
    return p


def _bad_geotransform(tmp: Path) -> Path:
    return write_geotiff(tmp / "z.tif", noisy((1, 20, 20)), transform=(100, 0, 0, 200, 0, 0))


def _bad_crs(tmp: Path) -> Path:
    # An engineering (local) CRS: it has no relation to the Earth, so no footprint exists.
    local = 'LOCAL_CS["arbitrary",UNIT["metre",1],AXIS["X",EAST],AXIS["Y",NORTH]]'
    return write_geotiff(tmp / "local.tif", noisy((1, 20, 20)), crs=local)


def _int64(tmp: Path) -> Path:
    return write_geotiff(tmp / "wide.tif", np.zeros((1, 8, 8), "int64"))


def _complex(tmp: Path) -> Path:
    return write_geotiff(tmp / "cplx.tif", np.zeros((1, 8, 8), "complex64"))


FILE_CASES: dict[str, tuple[Any, str]] = {
    "not-a-raster": (_text, "not a readable GeoTIFF or JPEG2000"),
    "truncated": (_truncated, "truncated|corrupt"),
    "corrupt": (_corrupt, "truncated or corrupt"),
    "vrt-renamed-tif": (_vrt, "not a readable GeoTIFF or JPEG2000"),
    "declares-200000-squared": (_bomb, "declares 200000 x 200000"),
    "no-georeferencing": (_no_georef, "no coordinate reference system"),
    "invalid-geotransform": (_bad_geotransform, "invalid geotransform|no geotransform"),
    "invalid-crs": (_bad_crs, "coordinate reference system"),
    "int64": (_int64, "unsupported data type int64"),
    "complex": (_complex, "unsupported data type complex64"),
}


def assert_failed(up: Any, pid: str, upload_id: str, image_key: str, match: str) -> dict:
    import re

    attrs = up.wait(pid, upload_id)
    assert attrs["status"] == "FAILURE", attrs["logs"]
    assert attrs["failure_type"] == "exception"
    assert re.search(match, attrs["logs"]), attrs["logs"]
    assert "Traceback" not in attrs["logs"]
    assert up.image(pid, image_key) is None
    return attrs


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_bad_file_fails_cleanly(up, clean, tmp_path, case):
    make, match = FILE_CASES[case]
    pid = up.product()
    path = make(tmp_path)
    upload_id = up.upload(pid, path)
    assert_failed(up, pid, upload_id, path.stem, match)
    # The server keeps serving: a good upload right after succeeds.
    good = write_geotiff(tmp_path / "good.tif", noisy((1, 16, 16)))
    assert up.wait(pid, up.upload(pid, good))["status"] == "SUCCESS"


def test_srcband_out_of_range(up, clean, tmp_path):
    pid = up.product([band("b1", srcband=3)])
    upload_id = up.upload(pid, write_geotiff(tmp_path / "one.tif", noisy((1, 8, 8))))
    assert_failed(up, pid, upload_id, "one", "wants srcband 3 but file 0 .one.tif. has 1 band")


def test_srcfile_out_of_range(up, clean, tmp_path):
    pid = up.product([band("b1"), band("b2", srcfile=1)])
    upload_id = up.upload(pid, write_geotiff(tmp_path / "one.tif", noisy((1, 8, 8))))
    assert_failed(up, pid, upload_id, "one", "wants srcfile 1 but the upload has 1 file")


def test_band_dtype_narrower_than_file(up, clean, tmp_path):
    pid = up.product([band("b1", dtype="Byte")])
    upload_id = up.upload(pid, write_geotiff(tmp_path / "u16.tif", noisy((1, 8, 8))))
    assert_failed(up, pid, upload_id, "u16", "would lose data")


def ndarray_body(geotrans: list[float] | None = None) -> dict[str, Any]:
    return {
        "process_controls": {"upload_type": "ndarray"},
        "proj4": "+proj=utm +zone=43 +datum=WGS84",
        "geotrans": geotrans or GEOTRANS,
    }


NPY_CASES: dict[str, tuple[bytes, str]] = {
    "object-dtype-pickle": (
        npy_bytes(np.array([{"a": 1}, None], dtype=object), allow_pickle=True),
        "not a valid .npy array file",
    ),
    "four-dimensions": (npy_bytes(np.zeros((2, 3, 4, 5), "uint16")), "array shape"),
    "int64": (npy_bytes(np.zeros((4, 4), "int64")), "unsupported array data type int64"),
    "not-npy": (b"PK\x03\x04 a zip file, not an array", "not a valid .npy array file"),
}


@pytest.mark.parametrize("case", list(NPY_CASES))
def test_bad_ndarray_fails_cleanly(up, clean, case):
    payload, match = NPY_CASES[case]
    pid = up.product()
    r = up.put(up.begin(pid, "arr", ndarray_body()), payload)
    assert r.status_code == 200, r.text
    assert_failed(up, pid, "arr", "arr", match)


def test_ndarray_with_a_degenerate_geotransform(up, clean):
    pid = up.product()
    body = ndarray_body([0.0, 1.0, 1.0, 0.0, 1.0, 1.0])  # rows == columns: no area
    r = up.put(up.begin(pid, "flat", body), npy_bytes(np.zeros((4, 4), "uint16")))
    assert r.status_code == 200, r.text
    assert_failed(up, pid, "flat", "flat", "invalid geotransform")


def test_product_without_bands(up, clean, tmp_path):
    pid = up.product([])
    upload_id = up.upload(pid, write_geotiff(tmp_path / "x.tif", noisy((1, 8, 8))))
    assert_failed(up, pid, upload_id, "x", "has no bands")

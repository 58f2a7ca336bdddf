"""Encoders, decoded exactly as the 0.17 client decodes them."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable

import blosc
import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS

from rastercat.errors import InvalidInput
from rastercat.raster import Grid, SourceImage, read
from rastercat.raster.encode import (
    blosc_stream,
    default_basename,
    npz_bytes,
    parse_raster_files,
    raster_files,
)

from .conftest import TRANSFORM, UTM43, band, random_array

Cog = Callable[..., SourceImage]


def client_read_blosc(body: bytes) -> tuple[np.ndarray, dict]:
    """The loop of ``Raster.ndarray`` in descarteslabs 0.17.3 (wire protocol §4.2)."""
    raw = io.BytesIO(body)
    metadata = json.loads(raw.readline())
    array_meta = json.loads(raw.readline())
    output = np.empty(array_meta["shape"], dtype=np.dtype(array_meta["dtype"]))
    ptr = output.ctypes.data
    for _ in array_meta["chunks"]:
        header = raw.read(16)
        _, nbytes, _, cbytes = struct.unpack("<IIII", header)
        body_ = raw.read(cbytes - 16)
        blosc.decompress_ptr(header + body_, ptr)
        ptr += nbytes
    assert ptr - output.ctypes.data == output.nbytes, "Did not receive complete array"
    assert raw.read() == b"", "nothing may follow the last frame"
    return output, metadata


@pytest.fixture
def result(cog: Cog):
    arr = random_array("uint16", (3, 48, 64))
    src = cog(arr, ("red", "green", "blue"))
    bands = [band("red", metadata={"name": "red", "nbits": 14}), band("green"), band("blue")]
    return arr, read([src], bands, Grid(UTM43, TRANSFORM, 64, 48))


@pytest.mark.parametrize("chunk_bytes", [16 * 2**20, 1000, 7])
def test_blosc_stream_decodes_with_the_client_loop(result, chunk_bytes: int) -> None:
    arr, res = result
    body = b"".join(blosc_stream(res.metadata, res.data, chunk_bytes=chunk_bytes))
    out, meta = client_read_blosc(body)
    np.testing.assert_array_equal(out, arr)
    assert body[:1] == b"{" and body.count(b"\n", 0, body.index(b'"chunks"')) == 1
    assert meta["size"] == [64, 48]
    assert meta["geoTransform"] == list(TRANSFORM.to_gdal())
    assert CRS.from_wkt(meta["coordinateSystem"]["wkt"]) == UTM43
    assert meta["bands"][0]["description"] == {"name": "red", "nbits": 14}
    assert meta["bands"][0]["type"] == "UInt16"


def test_blosc_frames_are_blosc1(result) -> None:
    _, res = result
    chunks = list(blosc_stream(res.metadata, res.data, chunk_bytes=4096))
    frame = chunks[1]
    version, _, _, typesize = struct.unpack("<BBBB", frame[:4])
    assert version == 2 and typesize == 2
    assert struct.unpack("<I", frame[12:16])[0] == len(frame)


def test_single_band_is_two_dimensional(result) -> None:
    arr, res = result
    out, _ = client_read_blosc(b"".join(blosc_stream(res.metadata, res.data[:1])))
    assert out.shape == (48, 64)
    np.testing.assert_array_equal(out, arr[0])


def test_empty_and_big_endian_arrays() -> None:
    empty = np.zeros((0, 5), "float32")
    out, _ = client_read_blosc(b"".join(blosc_stream({}, empty)))
    assert out.shape == (0, 5)
    big = np.arange(12, dtype=">i4").reshape(3, 4)
    out, _ = client_read_blosc(b"".join(blosc_stream({}, big)))
    np.testing.assert_array_equal(out, big)


def test_npz_decodes_as_the_client_does(result) -> None:
    arr, res = result
    npz = np.load(io.BytesIO(npz_bytes(res.metadata, res.data)))
    np.testing.assert_array_equal(npz["data"], arr)
    # 0.17.3 calls .tostring(); tobytes() is the same bytes on NumPy >= 2.3.
    meta = json.loads(npz["metadata"].tobytes().decode("utf-8"))
    assert meta["geoTransform"] == list(TRANSFORM.to_gdal())


def test_geotiff_file_framing_and_georeference(result) -> None:
    arr, res = result
    payload = raster_files(
        res.metadata,
        res.data,
        res.mask,
        res.grid,
        [band("red"), band("green"), band("blue")],
        "GTiff",
        default_basename(["ns:p:img"], ["red", "green", "blue"]),
    )
    head, files = parse_raster_files(payload)
    assert head["files"] == 1 and head["metadata"]["size"] == [64, 48]
    assert list(files) == ["ns:p:img_red-green-blue.tif"]
    with rasterio.MemoryFile(files["ns:p:img_red-green-blue.tif"]) as mem, mem.open() as ds:
        assert ds.crs == UTM43 and ds.transform == TRANSFORM
        np.testing.assert_array_equal(ds.read(), arr)
        assert ds.descriptions == ("red", "green", "blue")


def test_png_and_jpeg_files(result) -> None:
    _, res = result
    byte = (res.data // 256).astype("uint8")
    for fmt, ext in (("PNG", "png"), ("JPEG", "jpg")):
        _, files = parse_raster_files(
            raster_files(
                res.metadata,
                byte,
                res.mask,
                res.grid,
                [band("r", "Byte"), band("g", "Byte"), band("b", "Byte")],
                fmt,
                "x",
            )
        )
        with rasterio.MemoryFile(files[f"x.{ext}"]) as mem, mem.open() as ds:
            assert ds.driver == fmt and ds.count == 3 and (ds.width, ds.height) == (64, 48)
            if fmt == "PNG":
                np.testing.assert_array_equal(ds.read(), byte)


def test_formats_that_cannot_hold_the_pixels_are_invalid(result) -> None:
    _, res = result
    bands = [band("r"), band("g"), band("b")]
    with pytest.raises(InvalidInput, match="JPEG"):
        raster_files(res.metadata, res.data, res.mask, res.grid, bands, "JPEG", "x")
    with pytest.raises(InvalidInput, match="PNG"):
        raster_files(
            res.metadata, res.data.astype("float32"), res.mask, res.grid, bands, "PNG", "x"
        )
    with pytest.raises(InvalidInput):
        raster_files(res.metadata, res.data, res.mask, res.grid, bands, "BMP", "x")  # type: ignore[arg-type]


def test_geotiff_of_a_partial_read_carries_its_mask(cog: Cog) -> None:
    src = cog(np.full((1, 48, 64), 9, "uint16"))
    grid = Grid(UTM43, TRANSFORM, 80, 48)
    res = read([src], [band("b1")], grid)
    _, files = parse_raster_files(
        raster_files(res.metadata, res.data, res.mask, grid, [band("b1")], "GTiff", "m")
    )
    with rasterio.MemoryFile(files["m.tif"]) as mem, mem.open() as ds:
        np.testing.assert_array_equal(ds.dataset_mask() > 0, res.mask)

"""The Raster client: the /npz Blosc framing reader, the /raster file framing, and the live service."""

from __future__ import annotations

import io
import json
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import blosc
import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from rastercat.client.raster import (
    Raster,
    _ChunkReader,
    raster_body,
    read_blosc_array,
    read_raster_files,
)
from rastercat.errors import InvalidInput, NotFound, ServiceError

META = {"geoTransform": [0, 1, 0, 0, 0, -1], "coordinateSystem": {"wkt": 'LOCAL_CS["x"]'}}


def npz_stream(array: np.ndarray, pieces: int = 3, meta: dict | None = None) -> bytes:
    """Bytes as the server sends them (§4.2): two JSON lines, then Blosc-1 frames of the C bytes."""
    raw = np.ascontiguousarray(array).tobytes()
    bounds = np.linspace(0, len(raw), pieces + 1).astype(int)
    frames = [
        blosc.compress(raw[a:b], typesize=array.itemsize, cname="lz4")
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    head = json.dumps(meta or META) + "\n"
    shape_line = {
        "shape": list(array.shape),
        "dtype": array.dtype.str,
        "chunks": [len(f) for f in frames],
    }
    return head.encode() + (json.dumps(shape_line) + "\n").encode() + b"".join(frames)


@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint16", "float32", "float64"])
def test_reads_multiband_frames_exactly(dtype: str) -> None:
    rng = np.random.default_rng(1)
    array = (rng.random((3, 17, 23)) * 200).astype(dtype)
    out, meta = read_blosc_array(io.BytesIO(npz_stream(array, pieces=4)))
    assert meta == META
    assert out.dtype == array.dtype and out.shape == array.shape
    np.testing.assert_array_equal(out, array)


def test_frame_boundaries_need_not_match_itemsize() -> None:
    array = np.arange(2 * 5 * 7, dtype="<u2").reshape(2, 5, 7)
    out, _ = read_blosc_array(
        io.BytesIO(npz_stream(array, pieces=7))
    )  # 140 bytes in 7 pieces of 20
    np.testing.assert_array_equal(out, array)


def test_reads_memcpyed_frames() -> None:
    array = np.arange(12, dtype="<i4").reshape(3, 4)
    raw = array.tobytes()
    frame = struct.pack("<BBBBIII", 2, 1, 0x02, 4, len(raw), len(raw), len(raw) + 16) + raw
    line = json.dumps({"shape": [3, 4], "dtype": "int32", "chunks": [len(raw)]})
    out, _ = read_blosc_array(io.BytesIO(b"{}\n" + line.encode() + b"\n" + frame))
    np.testing.assert_array_equal(out, array)


def test_reads_from_a_chunked_http_body() -> None:
    array = np.arange(4 * 9 * 9, dtype="float32").reshape(4, 9, 9)
    data = npz_stream(array)
    chunks = iter([data[i : i + 7] for i in range(0, len(data), 7)] + [b""])
    out, meta = read_blosc_array(_ChunkReader(chunks))
    np.testing.assert_array_equal(out, array)
    assert meta == META


def test_empty_array_has_no_frames() -> None:
    line = json.dumps({"shape": [0, 5], "dtype": "uint8", "chunks": []})
    out, _ = read_blosc_array(io.BytesIO(b"{}\n" + line.encode() + b"\n"))
    assert out.shape == (0, 5)


def _frames_at(data: bytes) -> int:
    return data.index(b"\n", data.index(b"\n") + 1) + 1


def _corrupt(data: bytes, **changes: Any) -> bytes:
    first = data.index(b"\n") + 1
    second = data.index(b"\n", first) + 1
    line = json.loads(data[first:second]) | changes
    return data[:first] + json.dumps(line).encode() + b"\n" + data[second:]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: d[:-5], "ended inside frame"),
        (lambda d: d[: _frames_at(d) + 8], "ended in the header"),
        (lambda d: d + b"x", "after its last frame"),
        (lambda d: _corrupt(d, shape=[2, 4, 4]), "more than"),  # frames larger than the array
        (lambda d: _corrupt(d, shape=[9, 4, 4]), "Did not receive complete array"),
        (lambda d: _corrupt(d, chunks=[1]), "Did not receive complete array"),
        (lambda d: _corrupt(d, dtype="no-such-dtype"), "array-meta"),
        (lambda d: b"{not json\n" + d.split(b"\n", 1)[1], "metadata line is not JSON"),
        (lambda d: d.split(b"\n", 1)[0] + b"\n", "ended before its array-meta"),
    ],
)
def test_broken_streams_raise_service_error(mangle: Any, message: str) -> None:
    data = npz_stream(np.arange(3 * 4 * 4, dtype="uint16").reshape(3, 4, 4), pieces=2)
    with pytest.raises(ServiceError, match=message):
        read_blosc_array(io.BytesIO(mangle(data)))


def test_rejects_a_non_blosc1_frame() -> None:
    data = bytearray(npz_stream(np.arange(16, dtype="uint8").reshape(4, 4), pieces=1))
    header_at = _frames_at(bytes(data))
    data[header_at] = 3  # a version byte c-blosc 1.x would not accept
    with pytest.raises(ServiceError, match="not a Blosc-1 frame"):
        read_blosc_array(io.BytesIO(bytes(data)))


def test_reads_raster_file_framing() -> None:
    body = (
        json.dumps({"files": 2, "metadata": {"size": [2, 2]}}).encode()
        + b"\n"
        + json.dumps({"name": "a.tif", "length": 3}).encode()
        + b"\nA\nB"
        + json.dumps({"name": "b.png", "length": 0}).encode()
        + b"\n"
    )
    result = read_raster_files(body)
    assert result["files"] == {"a.tif": b"A\nB", "b.png": b""}
    assert result["metadata"] == {"size": [2, 2]}


def test_truncated_raster_file_raises() -> None:
    body = b'{"files": 1}\n{"name": "a.tif", "length": 10}\nshort'
    with pytest.raises(ServiceError, match="truncated"):
        read_raster_files(body)


def test_raster_body_sends_every_key_and_rejects_conflicts() -> None:
    body = raster_body(["a", "b"], bands="red green")
    assert body["ids"] == ["a", "b"] and body["bands"] == ["red", "green"]
    assert "dltile" not in body and body["targetAlignedPixels"] is False
    assert all(body[k] is None for k in ("scales", "ot", "srs", "shape", "outputBounds", "outsize"))
    assert raster_body("a", masked=True)["masked"] is True  # pass-through
    with pytest.raises(InvalidInput, match="not both"):
        raster_body("a", resolution=10, dimensions=(5, 5))
    with pytest.raises(InvalidInput, match="no inputs"):
        raster_body([])
    with pytest.raises(InvalidInput, match="Places"):
        raster_body("a", place="north-america_united-states")


# ---------------------------------------------------------------------------------------------
# Against the live server (needs the lead's live_server fixture and the Raster service).

GEOTRANS = (391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0)
UTM43 = CRS.from_epsg(32643)


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest) -> Any:
    try:
        return request.getfixturevalue("live_server")
    except pytest.FixtureLookupError:
        pytest.skip("tests/conftest.py provides no live_server fixture yet")


@pytest.fixture(scope="module")
def seeded(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One 2-band UInt16 image (48 rows x 64 cols, 15 m UTM 43N), uploaded through the Catalog SDK."""
    from rastercat.client.catalog import Catalog

    token = server.token("raster-sdk")
    data = np.arange(2 * 48 * 64, dtype="uint16").reshape(2, 48, 64) % 10000
    path = tmp_path_factory.mktemp("raster") / "pair.tif"
    with rasterio.Env(), rasterio.open(
        path, "w", driver="GTiff", width=64, height=48, count=2, dtype="uint16", crs=UTM43,
        transform=from_origin(GEOTRANS[0], GEOTRANS[3], 15, 15),
    ) as dst:  # fmt: skip
        dst.write(data)
    with Catalog(url=server.url, token=token) as catalog:
        pid = catalog.add_product(f"raster-{uuid.uuid4().hex[:8]}", title="t", description="d")[
            "data"
        ]["id"]
        for i, name in enumerate(("red", "green"), start=1):
            catalog.add_band(pid, name, srcband=i, dtype="UInt16", nbits=16,
                             data_range=[0, 10000], type="spectral")  # fmt: skip
        catalog.upload_image(str(path), pid)
        catalog.wait_for_image(pid, "pair", timeout=60, poll=0.1)
    with Raster(url=server.url, token=token) as raster:
        yield {"raster": raster, "id": f"{pid}:pair", "data": data}


def _native(**kwargs: Any) -> dict[str, Any]:
    bounds = [GEOTRANS[0], GEOTRANS[3] - 48 * 15, GEOTRANS[0] + 64 * 15, GEOTRANS[3]]
    return {"srs": "EPSG:32643", "bounds": bounds, "bounds_srs": "EPSG:32643", "resolution": 15.0,
            **kwargs}  # fmt: skip


def test_single_band_is_2d_and_exact(seeded: dict[str, Any]) -> None:
    array, meta = seeded["raster"].ndarray([seeded["id"]], bands=["green"], **_native())
    assert array.shape == (48, 64)
    np.testing.assert_array_equal(array, seeded["data"][1])
    assert list(meta["geoTransform"]) == list(GEOTRANS)


def test_order_image_puts_bands_last(seeded: dict[str, Any]) -> None:
    image, _ = seeded["raster"].ndarray(seeded["id"], bands="red green", **_native())
    gdal, _ = seeded["raster"].ndarray(seeded["id"], bands="red green", order="gdal", **_native())
    assert image.shape == (48, 64, 2) and gdal.shape == (2, 48, 64)
    np.testing.assert_array_equal(gdal, seeded["data"])
    np.testing.assert_array_equal(image, np.moveaxis(seeded["data"], 0, -1))


def test_stack_and_raster_files(seeded: dict[str, Any], tmp_path: Path) -> None:
    stacked, metas = seeded["raster"].stack(
        [seeded["id"], [seeded["id"]]], bands=["red"], **_native()
    )
    assert stacked.shape == (2, 48, 64, 1) and len(metas) == 2
    result = seeded["raster"].raster(seeded["id"], bands=["red"], **_native())
    ((name, data),) = result["files"].items()
    (tmp_path / "out.tif").write_bytes(data)
    with rasterio.open(tmp_path / "out.tif") as src:
        assert (src.width, src.height) == (64, 48)
        np.testing.assert_array_equal(src.read(1), seeded["data"][0])


def test_unknown_image_is_not_found(seeded: dict[str, Any]) -> None:
    with pytest.raises(NotFound):
        seeded["raster"].ndarray(seeded["id"] + "-nope", bands=["red"], **_native())


def test_bad_parameters_are_invalid_input(seeded: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        seeded["raster"].ndarray(seeded["id"], bands=["red"], **_native(resampler="no-such"))
    with pytest.raises(InvalidInput):
        seeded["raster"].ndarray(seeded["id"], bands=["no-such-band"], **_native())

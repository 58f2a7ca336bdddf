"""Bad uploads: each fails with an IngestError a user understands, and leaves nothing behind."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from _ingest_helpers import noisy
from affine import Affine
from rasterio.transform import from_origin

from rastercat.errors import IngestError
from rastercat.ingest import BandSpec, IngestRequest, process


def fails(files: list[Path], bands: list[BandSpec], work_dir: Path, limits, match: str) -> None:
    with pytest.raises(IngestError, match=match) as info:
        process(IngestRequest("file", tuple(files), tuple(bands)), work_dir, limits)
    assert list(work_dir.iterdir()) == [], "temporaries left behind"
    assert isinstance(info.value, IngestError)


def test_text_file(tmp_path, work_dir, limits):
    path = tmp_path / "notes.tif"
    path.write_text("this is not a raster\n")
    fails([path], [BandSpec("b", 1)], work_dir, limits, "not a readable GeoTIFF or JPEG2000")


def test_missing_file(tmp_path, work_dir, limits):
    fails([tmp_path / "gone.tif"], [BandSpec("b", 1)], work_dir, limits, "missing")


def test_truncated_tiff(write_tif, work_dir, limits):
    src = write_tif("t.tif", noisy((1, 300, 300), "uint16"), tiled=True, compress="deflate")
    data = src.read_bytes()
    src.write_bytes(data[: len(data) // 3])
    fails([src], [BandSpec("b", 1)], work_dir, limits, "truncated or corrupt")


def test_corrupt_tiff(write_tif, work_dir, limits):
    src = write_tif("c.tif", noisy((1, 300, 300), "uint16"), tiled=True, compress="deflate")
    data = bytearray(src.read_bytes())
    rng = np.random.default_rng(3)
    start = len(data) // 2  # the compressed tiles, well after the header
    data[start : start + 4000] = rng.integers(0, 256, 4000, dtype=np.uint8).tobytes()
    src.write_bytes(bytes(data))
    fails([src], [BandSpec("b", 1)], work_dir, limits, "truncated or corrupt")


def test_vrt_renamed_tif_reading_a_local_file(tmp_path, work_dir, limits):
    vrt = tmp_path / "upload.tif"
    vrt.write_text(
        '<VRTDataset rasterXSize="8" rasterYSize="1">'
        "<SRS>EPSG:4326</SRS><GeoTransform>0, 1, 0, 0, 0, -1</GeoTransform>"
        '<VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">'
        '<SourceFilename relativetoVRT="0">/etc/hostname</SourceFilename>'
        "<ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset><LineOffset>8</LineOffset>"
        "</VRTRasterBand></VRTDataset>"
    )
    fails([vrt], [BandSpec("b", 1, dtype="Byte")], work_dir, limits, "not a readable GeoTIFF")


@pytest.fixture
def listener():
    """A loopback TCP listener that records every connection made to it."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.05)
    hits: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(1)
                try:
                    hits.append(conn.recv(4096))
                except OSError:
                    hits.append(b"")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1], hits
    stop.set()
    thread.join(timeout=2)
    srv.close()


def test_vrt_renamed_tif_with_vsicurl_makes_no_request(tmp_path, work_dir, limits, listener):
    port, hits = listener
    vrt = tmp_path / "upload.tif"
    vrt.write_text(
        '<VRTDataset rasterXSize="8" rasterYSize="8">'
        "<SRS>EPSG:4326</SRS><GeoTransform>0, 1, 0, 0, 0, -1</GeoTransform>"
        '<VRTRasterBand dataType="Byte" band="1"><SimpleSource>'
        f'<SourceFilename relativetoVRT="0">/vsicurl/http://127.0.0.1:{port}/x.tif</SourceFilename>'
        "<SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>"
    )
    fails([vrt], [BandSpec("b", 1, dtype="Byte")], work_dir, limits, "not a readable GeoTIFF")
    # Positive control: the listener does see a plain connection, so silence above means something.
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"ping")
    for _ in range(200):
        if hits:
            break
        threading.Event().wait(0.01)
    assert hits == [b"ping"]


def tiny_tiff(width: int, height: int) -> bytes:
    """A single-strip DEFLATE TIFF header declaring ``width`` x ``height`` bytes of pixels."""
    import struct
    import zlib

    payload = zlib.compress(b"\0" * 4096)
    tags = [
        (256, 4, 1, width),  # ImageWidth
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample
        (259, 3, 1, 8),  # Compression: DEFLATE
        (262, 3, 1, 1),  # Photometric: min-is-black
        (273, 4, 1, 0),  # StripOffsets (patched below)
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip: one strip
        (279, 4, 1, len(payload)),  # StripByteCounts
    ]
    ifd_size = 2 + 12 * len(tags) + 4
    data_offset = 8 + ifd_size
    out = bytearray(b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(tags)))
    for tag, typ, count, value in tags:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HH", value, 0) if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    out += struct.pack("<I", 0) + payload
    return bytes(out)


def test_tiny_tiff_declaring_huge_size_fails_fast(tmp_path, work_dir, limits):
    import time

    path = tmp_path / "bomb.tif"
    path.write_bytes(tiny_tiff(200_000, 200_000))
    assert path.stat().st_size < 600
    t0 = time.perf_counter()
    fails([path], [BandSpec("b", 1, dtype="Byte")], work_dir, limits, "declares 200000 x 200000")
    assert time.perf_counter() - t0 < 2


def test_pixel_count_limit(write_tif, work_dir, limits):
    src = write_tif("p.tif", noisy((1, 50, 50), "uint16"))
    small = limits.model_copy(update={"max_image_pixels": 2000})
    fails([src], [BandSpec("b", 1)], work_dir, small, "at most 2000 pixels")


def test_side_limit(write_tif, work_dir, limits):
    src = write_tif("p.tif", noisy((1, 10, 50), "uint16"))
    small = limits.model_copy(update={"max_image_side": 40})
    fails([src], [BandSpec("b", 1)], work_dir, small, "largest accepted side is 40")


def test_no_georeferencing(write_tif, work_dir, limits):
    src = write_tif("n.tif", noisy((1, 20, 20), "uint16"), crs=None, transform=None)
    fails([src], [BandSpec("b", 1)], work_dir, limits, "no coordinate reference system")


def test_crs_but_no_geotransform(write_tif, work_dir, limits):
    src = write_tif("n.tif", noisy((1, 20, 20), "uint16"), transform=None)
    fails([src], [BandSpec("b", 1)], work_dir, limits, "no geotransform")


def test_invalid_geotransform(write_tif, work_dir, limits):
    src = write_tif("z.tif", noisy((1, 20, 20), "uint16"), transform=Affine(0, 0, 100, 0, 0, 200))
    fails([src], [BandSpec("b", 1)], work_dir, limits, "invalid geotransform|no geotransform")


@pytest.mark.parametrize("dtype", ["complex64", "int64"])
def test_unsupported_file_dtype(write_tif, work_dir, limits, dtype):
    src = write_tif("x.tif", np.zeros((1, 8, 8), dtype))
    fails([src], [BandSpec("b", 1)], work_dir, limits, f"unsupported data type {dtype}")


def test_srcband_out_of_range(write_tif, work_dir, limits):
    src = write_tif("blue.tif", noisy((1, 8, 8), "uint16"))
    fails(
        [src],
        [BandSpec("blue", 3)],
        work_dir,
        limits,
        r"band 'blue' wants srcband 3 but file 0 \(blue.tif\) has 1 band$",
    )


def test_srcfile_out_of_range(write_tif, work_dir, limits):
    src = write_tif("blue.tif", noisy((1, 8, 8), "uint16"))
    fails(
        [src],
        [BandSpec("red", 1, srcfile=1)],
        work_dir,
        limits,
        "wants srcfile 1 but the upload has 1 file",
    )


def test_narrowing_dtype_rejected(write_tif, work_dir, limits):
    src = write_tif("f.tif", noisy((1, 8, 8), "float32"))
    fails(
        [src],
        [BandSpec("ndvi", 1, dtype="UInt16")],
        work_dir,
        limits,
        "band 'ndvi' is UInt16 but .* float32",
    )


def test_uint16_into_byte_rejected(write_tif, work_dir, limits):
    src = write_tif("u.tif", noisy((1, 8, 8), "uint16"))
    fails([src], [BandSpec("b", 1, dtype="Byte")], work_dir, limits, "would lose data")


def test_multi_file_grids_must_match(write_tif, work_dir, limits):
    a = write_tif("a.tif", noisy((1, 16, 16), "uint16"))
    b = write_tif("b.tif", noisy((1, 16, 16), "uint16"), transform=from_origin(0, 0, 15, 15))
    c = write_tif("c.tif", noisy((1, 16, 17), "uint16"))
    d = write_tif("d.tif", noisy((1, 16, 16), "uint16"), crs="EPSG:32644")
    bands = [BandSpec("x", 1, 0), BandSpec("y", 1, 1)]
    fails([a, b], bands, work_dir, limits, "different geotransforms")
    fails([a, c], bands, work_dir, limits, "17 x 16 pixels")
    fails([a, d], bands, work_dir, limits, "different coordinate reference systems")


def test_jpx_layer_rejected(write_tif, work_dir, limits):
    src = write_tif("a.tif", noisy((1, 8, 8), "uint16"))
    fails([src], [BandSpec("b", 1, jpx_layer=2)], work_dir, limits, "jpx_layer 2")


def test_duplicate_band_names(write_tif, work_dir, limits):
    src = write_tif("a.tif", noisy((2, 8, 8), "uint16"))
    fails([src], [BandSpec("b", 1), BandSpec("b", 2)], work_dir, limits, "not unique")

"""JPEG2000 tiles are checked like GeoTIFF blocks: OpenJPEG decodes a whole tile for any pixel of
it, so a few kilobytes of JP2 can declare one tile that decodes to gigabytes."""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from _ingest_helpers import UTM43, UTM43_TRANSFORM, Uploads, noisy

from rastercat.errors import IngestError
from rastercat.ingest import BandSpec, IngestRequest, process
from rastercat.ingest.probe import MAX_BLOCK_BYTES

SIDE = 16_800
"""One tile of SIDE x SIDE decodes to SIDE² x 4 bytes (32-bit samples): just above the cap, while
the image (SIDE² 16-bit pixels) stays well inside the declared-size limits."""


def write_jp2(path: Path, arr: np.ndarray, **options: Any) -> Path:
    options = {"quality": 100, "reversible": "YES", **options}  # lossless: pixels compare exactly
    with rasterio.open(
        path, "w", driver="JP2OpenJPEG", width=arr.shape[-1], height=arr.shape[-2], count=1,
        dtype=arr.dtype.name, crs=UTM43, transform=UTM43_TRANSFORM, **options,
    ) as dst:  # fmt: skip
        dst.write(arr.reshape(1, *arr.shape[-2:]))
    return path


def huge_tile_jp2(path: Path, side: int = SIDE) -> Path:
    """A JP2 written by GDAL whose headers then declare one ``side`` x ``side`` tile: GDAL's
    writer clamps BLOCKXSIZE/BLOCKYSIZE to the image, so a hostile file is made by editing the
    image header box (ihdr) and the codestream's SIZ marker, as an attacker would."""
    write_jp2(path, noisy((1, 64, 64), "uint16"))
    data = bytearray(path.read_bytes())
    ihdr = data.index(b"ihdr")
    struct.pack_into(">II", data, ihdr + 4, side, side)  # HEIGHT, WIDTH
    siz = data.index(b"\xff\x4f\xff\x51")  # SOC, SIZ
    struct.pack_into(">IIIIII", data, siz + 8, side, side, 0, 0, side, side)  # image, tile
    path.write_bytes(bytes(data))
    return path


def test_the_declared_tile_is_read_from_the_codestream(tmp_path: Path) -> None:
    from rastercat.ingest.probe import jp2_tile_size

    tiled = write_jp2(tmp_path / "t.jp2", noisy((1, 300, 260), "uint16"),
                      blockxsize=128, blockysize=64)  # fmt: skip
    assert jp2_tile_size(tiled) == (128, 64, 1)
    assert jp2_tile_size(huge_tile_jp2(tmp_path / "h.jp2")) == (SIDE, SIDE, 1)
    assert SIDE * SIDE * 4 > MAX_BLOCK_BYTES


def test_a_huge_tile_is_rejected_before_any_pixel_is_decoded(tmp_path: Path, work_dir: Path,
                                                              limits: Any) -> None:  # fmt: skip
    path = huge_tile_jp2(tmp_path / "bomb.jp2")
    clock = time.monotonic()
    with pytest.raises(IngestError, match=f"JPEG2000 tiles of {SIDE} x {SIDE} pixels"):
        process(IngestRequest("file", (path,), (BandSpec("b1", 1),)), work_dir, limits)
    assert time.monotonic() - clock < 5, "the tile was decoded before the check"
    assert list(work_dir.iterdir()) == []


def test_a_normal_tiled_jp2_still_converts(tmp_path: Path, work_dir: Path, limits: Any) -> None:
    arr = noisy((1, 300, 260), "uint16")
    path = write_jp2(tmp_path / "ok.jp2", arr, blockxsize=128, blockysize=128)
    res = process(IngestRequest("file", (path,), (BandSpec("b1", 1),)), work_dir, limits)
    with rasterio.open(res.cog_path) as cog:
        assert np.array_equal(cog.read(1), arr[0])


def test_uploads_end_failure_naming_the_tile_or_success(server_factory: Any,
                                                        tmp_path: Path) -> None:  # fmt: skip
    up = Uploads(server_factory())
    try:
        pid = up.product()
        bomb = up.wait(pid, up.upload(pid, huge_tile_jp2(tmp_path / "bomb.jp2")))
        assert bomb["status"] == "FAILURE", bomb["logs"]
        assert f"JPEG2000 tiles of {SIDE} x {SIDE} pixels" in bomb["logs"]
        fine = write_jp2(tmp_path / "fine.jp2", noisy((1, 200, 180), "uint16"))
        ok = up.wait(pid, up.upload(pid, fine))
        assert ok["status"] == "SUCCESS", ok["logs"]
    finally:
        up.close()


def test_a_decoy_codestream_header_in_an_earlier_box_is_not_believed(
    tmp_path: Path, work_dir: Path, limits: Any
) -> None:
    """The tile size comes from the codestream box itself, not from the first bytes that look like
    a codestream header (here inside an XML box placed before it, declaring small tiles)."""
    path = huge_tile_jp2(tmp_path / "decoy.jp2")
    data = path.read_bytes()
    jp2c = data.index(b"jp2c") - 4  # the box starts with its 4-byte length
    fake = b"\xff\x4f\xff\x51" + struct.pack(">HH8IH", 41, 0, 64, 64, 0, 0, 64, 64, 0, 0, 1)
    xml = struct.pack(">I4s", 8 + len(fake), b"xml ") + fake
    path.write_bytes(data[:jp2c] + xml + data[jp2c:])
    with pytest.raises(IngestError, match=f"JPEG2000 tiles of {SIDE} x {SIDE} pixels"):
        process(IngestRequest("file", (path,), (BandSpec("b1", 1),)), work_dir, limits)

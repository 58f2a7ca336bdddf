"""The md5 of the COG is hashed in a thread beside verification, footprint and statistics: the
digest recorded is still hashlib's over the file handed back, a damaged COG is still refused (and
the hash stopped), and every step's time is in the processing log."""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

import pytest
from _ingest_helpers import noisy

from rastercat.errors import IngestError
from rastercat.ingest import BandSpec, IngestRequest, process
from rastercat.ingest import pipeline as pipeline_module
from rastercat.ingest.verify import HASH_CHUNK_BYTES, HashCancelled, file_md5


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def test_checksums_equal_hashlib_over_the_cog_and_inputs(write_tif, work_dir, limits, monkeypatch):
    # Smaller chunks than the files, so each digest spans many reads of the reused buffer.
    monkeypatch.setattr("rastercat.ingest.verify.HASH_CHUNK_BYTES", 2**16)
    a = write_tif("a.tif", noisy((2, 1500, 1300), "uint16"))
    b = write_tif("b.tif", noisy((1, 1500, 1300), "uint16", seed=3))
    req = IngestRequest(
        "file", (a, b), (BandSpec("x", 1, srcfile=0), BandSpec("y", 1, srcfile=1)),
        hash_inputs=True,
    )  # fmt: skip
    res = process(req, work_dir, limits)
    assert res.cog_path.stat().st_size > 10 * 2**16
    assert res.attributes["cog_md5"] == md5(res.cog_path)
    assert res.attributes["file_md5s"] == [md5(a), md5(b)]


def test_file_md5_of_an_empty_and_an_odd_sized_file(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    odd = tmp_path / "odd"
    odd.write_bytes(os.urandom(HASH_CHUNK_BYTES * 2 + 7))
    assert file_md5(empty) == md5(empty)
    assert file_md5(odd) == md5(odd)


def test_file_md5_stops_when_told(tmp_path):
    path = tmp_path / "blob"
    path.write_bytes(b"x" * (HASH_CHUNK_BYTES + 1))
    stop = threading.Event()
    stop.set()
    with pytest.raises(HashCancelled):
        file_md5(path, stop)


@pytest.mark.parametrize("fraction", [0.4, 0.9])
def test_a_truncated_cog_is_refused_while_it_is_hashed(
    write_tif, work_dir, limits, monkeypatch, fraction
):
    """The writer is made to leave a truncated COG, as a killed GDAL would: the block check
    refuses it although the hash of the same file had already started, and nothing is left."""
    real = pipeline_module.write_cog

    def truncating(plan, dst, staging, compression, level):  # type: ignore[no-untyped-def]
        route = real(plan, dst, staging, compression, level)
        os.truncate(dst, int(dst.stat().st_size * fraction))
        return route

    monkeypatch.setattr(pipeline_module, "write_cog", truncating)
    src = write_tif("s.tif", noisy((1, 1100, 1100), "uint16"))
    with pytest.raises(IngestError, match="past the end of the file"):
        process(IngestRequest("file", (src,), (BandSpec("b", 1),)), work_dir, limits)
    assert list(work_dir.iterdir()) == []


def test_each_step_is_timed_in_the_log(write_tif, work_dir, limits):
    src = write_tif("s.tif", noisy((1, 600, 600), "uint16"))
    lines: list[str] = []
    res = process(
        IngestRequest("file", (src,), (BandSpec("b", 1),)), work_dir, limits, log=lines.append
    )
    text = "\n".join(lines)
    assert re.search(
        r"^COG written in \d+\.\d\d s \(\d+\.\d\d s CPU: \d+\.\d\d user, \d+\.\d\d system\)",
        text,
        re.M,
    )
    for step in ("COG verified", "footprint", "statistics", "checksum"):
        assert re.search(rf"^{step} in \d+\.\d\d s", text, re.M), step
    assert res.attributes["cog_md5"] == md5(res.cog_path)


def test_the_cog_is_the_bytes_gdals_cog_driver_writes_with_the_same_options(
    write_tif, work_dir, limits, tmp_path
):
    """The benchmarks' peer is GDAL's COG driver given ``copy_options`` and its own default
    configuration: rastercat's scratch configuration changes the speed, not one byte."""
    import rasterio
    import rasterio.shutil

    from rastercat.ingest.plan import make_plan
    from rastercat.ingest.probe import probe_file
    from rastercat.ingest.to_cog import copy_options

    src = write_tif("s.tif", noisy((3, 2100, 1900), "uint16"))
    req = IngestRequest("file", (src,), tuple(BandSpec(f"b{i}", i) for i in (1, 2, 3)))
    res = process(req, work_dir, limits)
    opts = copy_options(make_plan(req, [probe_file(0, src, limits)]), "ZSTD", 1)
    assert opts["overview_count"] >= 2  # the scratch overview file is used
    peer = tmp_path / "peer.tif"
    with rasterio.open(src) as ds:
        rasterio.shutil.copy(ds, peer, driver="COG", **opts)
    assert md5(peer) == md5(res.cog_path) == res.attributes["cog_md5"]


def test_a_cog_the_disk_refuses_to_take_fails_the_upload_and_leaves_nothing(
    write_tif, work_dir, limits, monkeypatch
):
    """The COG is written to disk (fdatasync) beside the checksum, before it may be stored and
    recorded: when the disk refuses (EIO, ENOSPC at writeback), the upload fails with a message
    naming the error, and no file is left behind."""
    import errno

    def refusing(path, drop_cache=False):  # type: ignore[no-untyped-def]
        assert path.exists()  # the COG GDAL wrote and closed
        raise OSError(errno.EIO, "Input/output error", str(path))

    monkeypatch.setattr(pipeline_module, "sync_file", refusing)
    src = write_tif("s.tif", noisy((1, 300, 300), "uint16"))
    with pytest.raises(IngestError, match="Input/output error"):
        process(IngestRequest("file", (src,), (BandSpec("b", 1),)), work_dir, limits)
    assert list(work_dir.iterdir()) == []

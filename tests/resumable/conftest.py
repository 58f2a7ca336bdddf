"""Fixtures of the resumable-upload tests: a server per module with small parts allowed, a real
GeoTIFF of a chosen size, and a product to upload into.

The large file's size is ``RASTERCAT_TEST_RESUMABLE_MIB`` (MiB; CI uses the default, 64). The issue
asks for 2 GiB: ``RASTERCAT_TEST_RESUMABLE_MIB=2048`` runs the same tests at that size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _resumable_helpers import LARGE_MIB, geotiff_of

from helpers import write_geotiff


@pytest.fixture(scope="module")
def large_tif(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return geotiff_of(tmp_path_factory.mktemp("large") / "large.tif", LARGE_MIB)


@pytest.fixture
def small_tif(tmp_path: Path) -> Path:
    return write_geotiff(tmp_path / "small.tif", np.arange(64 * 64, dtype="uint16").reshape(64, 64))


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 in server mode on a free port of 127.0.0.1 (as in tests/scale)."""
    pytest.importorskip("moto.server")
    import socket

    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()

"""Fixtures of the hostile-request tests: a product with one ingested image on the session's live
server, and a loopback listener that counts every connection made to it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _hostile import BAND, CAT, Ingested, Listener

from helpers import wait_for, write_geotiff
from rastercat.config import Limits


@pytest.fixture
def listener() -> Iterator[Listener]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    lis = Listener(sock)
    thread = threading.Thread(target=lis.serve, daemon=True)
    thread.start()
    try:
        yield lis
    finally:
        sock.close()
        thread.join(5)


def ingest_image(server: Any, user: str, tmp: Path) -> Ingested:
    """A product with band ``b1`` and one 32 x 32 UInt16 image ``i`` (UTM 43N, 15 m pixels)."""
    c = server.client(user)
    r = c.post(f"{CAT}/products", json={"id": "hostile", "title": "T", "description": "D"})
    assert r.status_code == 201, r.text
    pid = r.json()["data"]["id"]
    assert c.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201
    data = (np.arange(32 * 32, dtype="uint16").reshape(1, 32, 32) % 100) + 1
    path = write_geotiff(tmp / "i.tif", data)
    url = c.post(f"{CAT}/products/{pid}/images/upload/i.tif",
                 json={"process_controls": {"upload_type": "file"}}).text  # fmt: skip
    assert c.put(url, content=path.read_bytes()).status_code == 200
    wait_for(lambda: c.get(f"{CAT}/products/{pid}/images/i").status_code == 200, 60,
             what="the image")  # fmt: skip
    return Ingested(server, c, pid)


@pytest.fixture(scope="module")
def ingested(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    ing = ingest_image(live_server, "hostile-alice", tmp_path_factory.mktemp("hostile"))
    try:
        yield ing
    finally:
        ing.client.close()


#: Caps of the ``small`` server: a 99 x 100 Byte output of a UInt16 band is under
#: max_output_bytes, but its read (painted in UInt16) needs more than max_read_bytes.
SMALL_LIMITS = Limits(max_output_bytes=10_000, max_read_bytes=170_000, max_concurrent_reads=2)


@pytest.fixture
def small(server_factory: Any, tmp_path: Path) -> Iterator[Ingested]:
    """A server of its own with small read caps and two read slots, with the same image."""
    ing = ingest_image(server_factory(limits=SMALL_LIMITS), "small-alice", tmp_path)
    try:
        yield ing
    finally:
        ing.client.close()

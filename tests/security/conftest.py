"""Fixtures of the hostile-request tests: a product with one ingested image on the session's live
server, and a loopback listener that counts every connection made to it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from _hostile import BAND, CAT, Ingested, Listener

from helpers import wait_for, write_geotiff


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


@pytest.fixture(scope="module")
def ingested(live_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingested]:
    """A product with band ``b1`` and one 32 x 32 UInt16 image ``i`` (UTM 43N, 15 m pixels)."""
    c = live_server.client("hostile-alice")
    r = c.post(f"{CAT}/products", json={"id": "hostile", "title": "T", "description": "D"})
    assert r.status_code == 201, r.text
    pid = r.json()["data"]["id"]
    assert c.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201
    data = (np.arange(32 * 32, dtype="uint16").reshape(1, 32, 32) % 100) + 1
    path = write_geotiff(tmp_path_factory.mktemp("hostile") / "i.tif", data)
    url = c.post(f"{CAT}/products/{pid}/images/upload/i.tif",
                 json={"process_controls": {"upload_type": "file"}}).text  # fmt: skip
    assert c.put(url, content=path.read_bytes()).status_code == 200
    wait_for(lambda: c.get(f"{CAT}/products/{pid}/images/i").status_code == 200, 60,
             what="the image")  # fmt: skip
    try:
        yield Ingested(live_server, c, pid)
    finally:
        c.close()

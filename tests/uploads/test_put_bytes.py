"""A PUT's bytes reach storage exactly as sent, however the body is cut into chunks: blocks of
the receiving buffer filled across chunk boundaries, a last partial block, one written while the
next fills."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from _upload_helpers import Uploader

from rastercat.store.spool import BLOCK
from rastercat.store.sql.repo import t


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """A generator body: httpx sends it chunked, in pieces of ``size`` bytes."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


def stored_bytes(server: Any, upload_id: str) -> bytes:
    with server.state.repo.tx() as conn:
        key = conn.execute(
            sa.select(t.uploads.c.file_key).where(t.uploads.c.upload_id == upload_id)
        ).scalar_one()
    return (server.settings.data_dir / "objects" / key).read_bytes()


def test_a_body_in_odd_chunks_is_stored_byte_for_byte(server_factory: Any) -> None:
    # No workers: the upload stays PENDING and its raw file stays in storage to be compared.
    server = server_factory(start_workers=False)
    up = Uploader(server)
    try:
        pid = up.product()
        data = os.urandom(3 * BLOCK + 12_345)
        for name, size in (("odd.tif", 77_777), ("big.tif", BLOCK + 1), ("one.tif", 1)):
            body = data if size > 1 else data[: 3 * 4096]
            r = up.put(up.begin(pid, name), chunks(body, size))
            assert r.status_code == 200, r.text
            assert r.json()["size"] == len(body) and r.json()["status"] == "PENDING"
            assert stored_bytes(server, name) == body
        assert not list((server.settings.data_dir / "incoming").iterdir())
    finally:
        up.close()


def test_a_body_of_exactly_whole_blocks(server_factory: Any) -> None:
    server = server_factory(start_workers=False)
    up = Uploader(server)
    try:
        pid = up.product()
        data = os.urandom(2 * BLOCK)
        r = up.put(up.begin(pid, "whole.tif"), chunks(data, 65_536))
        assert r.status_code == 200, r.text
        assert stored_bytes(server, "whole.tif") == data
    finally:
        up.close()

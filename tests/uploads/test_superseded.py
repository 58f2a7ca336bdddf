"""A job delivered twice (a lease taken over while the first runner still lives) yields one image,
and the late runner neither overwrites the result nor deletes the winner's files."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import sqlalchemy as sa
from _upload_helpers import Uploader, band

from helpers import write_geotiff
from rastercat.store.sql.repo import t


def test_late_attempt_changes_nothing(server_factory: Any, tmp_path: Any) -> None:
    server = server_factory(start_workers=False)  # this test is the worker
    up = Uploader(server)
    try:
        pid = up.product([band("blue")])
        path = write_geotiff(
            tmp_path / "blue.tif", np.arange(64 * 48, dtype="uint16").reshape(48, 64)
        )
        url = up.begin(pid, "blue.tif")
        assert up.put(url, path.read_bytes()).status_code == 200
        runner = server.state.runner
        repo = server.state.repo
        first = runner.claim()
        assert first is not None and first["attempts"] == 1
        with repo.tx() as conn:  # the first runner's lease runs out while it still works
            conn.execute(sa.update(t.uploads).values(lease_until=time.time() - 1))
        second = runner.claim()
        assert second is not None and second["attempts"] == 2
        assert runner.run(second) == "SUCCESS"
        image = repo.one(t.images, product_id=pid, key="blue")
        assert image["storage_key"].endswith("-2.tif")
        assert runner.run(first) == "SUPERSEDED"
        row = repo.one(t.uploads, uid=first["uid"])
        assert row["status"] == "SUCCESS" and row["attempts"] == 2
        assert repo.one(t.images, product_id=pid, key="blue")["storage_key"] == image["storage_key"]
        assert server.state.objects.exists(image["storage_key"])
        assert repo.count(t.images, t.images.c.product_id == pid) == 1
        assert up.image(pid, "blue") is not None
    finally:
        up.close()

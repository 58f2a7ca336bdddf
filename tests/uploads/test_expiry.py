"""Abandoned uploads end as FAILURE instead of waiting forever."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import sqlalchemy as sa
from _upload_helpers import Uploader, band

from helpers import wait_for, write_geotiff
from rastercat.store.sql.repo import t, utcnow


def test_upload_url_never_used_expires(server_factory: Any) -> None:
    server = server_factory(upload_url_ttl=-60)  # URLs are stale as soon as they are handed out
    up = Uploader(server)
    try:
        pid = up.product([band("blue")])
        up.begin(pid, "never.tif")
        doc = wait_for(
            lambda: (d := up.result(pid, "never.tif"))["status"] == "FAILURE" and d,
            timeout=20,
            what="the abandoned upload to expire",
        )
        assert "expired" in doc["logs"] and doc["failure_type"] == "timeout"
    finally:
        up.close()


def test_incomplete_multi_file_scene_expires(server_factory: Any, tmp_path: Any) -> None:
    server = server_factory()
    up = Uploader(server)
    try:
        pid = up.product([band("a"), band("b", srcfile=1)])
        multi = {"image_files": ["a.tif", "b.tif"], "image_id": "scene"}
        path = write_geotiff(tmp_path / "a.tif", np.ones((8, 8), "uint16"))
        url = up.begin(
            pid, "a.tif", {"process_controls": {"upload_type": "file", "multi_file": multi}}
        )
        assert up.put(url, path.read_bytes()).status_code == 200
        assert up.result(pid, "a.tif")["status"] == "WAITING"
        maintenance = server.state.maintenance.maintenance
        assert maintenance.expire_uploads() == 0  # not stale yet
        with server.state.repo.tx() as conn:  # two hours pass
            conn.execute(sa.update(t.uploads).values(created=utcnow() - timedelta(hours=2)))
        assert maintenance.expire_uploads() == 1
        doc = up.result(pid, "a.tif")
        assert doc["status"] == "FAILURE" and "never arrived" in doc["logs"]
        assert not list(server.state.objects.list("uploads"))
    finally:
        up.close()


def test_raw_files_no_live_upload_needs_are_swept(server_factory: Any, tmp_path: Any) -> None:
    """Files under uploads/ of a finished upload (a second PUT to a reusable URL) or of an upload
    that no longer exists (a PUT racing its product's deletion) are removed; files of uploads that
    are still arriving, waiting or queued are kept."""
    server = server_factory()
    up = Uploader(server)
    objects = server.state.objects
    server.state.maintenance.stop()  # this test runs the sweep itself
    maintenance = server.state.maintenance.maintenance
    try:
        single = up.product([band("a")])
        path = write_geotiff(tmp_path / "done.tif", np.ones((8, 8), "uint16"))
        up.upload(single, path)
        assert up.wait(single, "done.tif")["status"] == "SUCCESS"
        pid = up.product([band("a"), band("b", srcfile=1)])
        multi = {"image_files": ["a.tif", "b.tif"], "image_id": "scene"}
        url = up.begin(
            pid, "a.tif", {"process_controls": {"upload_type": "file", "multi_file": multi}}
        )
        assert up.put(url, path.read_bytes()).status_code == 200
        assert up.result(pid, "a.tif")["status"] == "WAITING"
        up.begin(pid, "arriving.tif")
        rows = {r["upload_id"]: r for r in server.state.repo.all(t.uploads)}

        def plant(key: str) -> str:
            objects.put_file(write_geotiff(tmp_path / "plant.tif", np.ones((4, 4), "uint8")), key)
            return key

        stray = [
            plant(f"uploads/{rows['done.tif']['uid']}/again/done.tif"),
            plant("uploads/0123456789abcdef/gone.tif"),
        ]
        kept = [rows["a.tif"]["file_key"], plant(f"uploads/{rows['arriving.tif']['uid']}/x.tif")]
        assert maintenance.sweep_stray_uploads() == 2
        left = set(objects.list("uploads"))
        assert left == set(kept) and not left & set(stray)
        assert maintenance.sweep_stray_uploads() == 0
        # The scene still completes from the file that was kept.
        path_b = write_geotiff(tmp_path / "b.tif", np.full((8, 8), 2, "uint16"))
        url = up.begin(
            pid, "b.tif", {"process_controls": {"upload_type": "file", "multi_file": multi}}
        )
        assert up.put(url, path_b.read_bytes()).status_code == 200
        assert up.wait(pid, "b.tif")["status"] == "SUCCESS"
    finally:
        up.close()

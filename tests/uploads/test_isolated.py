"""Conversions in child processes: the same results and logs, and a killed child fails one job only."""

from __future__ import annotations

import os
import signal
from typing import Any

import numpy as np
from _upload_helpers import Uploader, band

from helpers import wait_for, write_geotiff


def test_conversion_in_a_child_process(server_factory: Any, tmp_path: Any) -> None:
    server = server_factory(isolate=True)
    assert server.state.extras["conversions"] is not None
    up = Uploader(server)
    try:
        pid = up.product([band("blue")])
        data = np.arange(64 * 48, dtype="uint16").reshape(48, 64)
        up.upload(pid, write_geotiff(tmp_path / "blue.tif", data))
        result = up.wait(pid, "blue.tif")
        assert result["status"] == "SUCCESS", result["logs"]
        assert "COG written" in result["logs"]  # the child's log lines come back
        children = server.state.extras["conversions"]._executor._processes
        assert children and os.getpid() not in children

        # A child killed mid-life (as the OOM killer would) breaks the pool; the next job says so
        # or runs on a fresh pool, and the server goes on ingesting.
        for child in list(children):
            os.kill(child, signal.SIGKILL)
        up.upload(pid, write_geotiff(tmp_path / "after.tif", data))
        after = wait_for(
            lambda: (r := up.result(pid, "after.tif"))["status"] in ("SUCCESS", "FAILURE") and r,
            what="the upload after the kill",
        )
        if after["status"] == "FAILURE":
            assert after["failure_type"] == "oom"
            up.upload(pid, write_geotiff(tmp_path / "again.tif", data))
            assert up.wait(pid, "again.tif")["status"] == "SUCCESS"
    finally:
        up.close()

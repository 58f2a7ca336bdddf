"""`rastercat upload` sends a large file as a resumable upload by itself, with a progress bar."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from _resumable_helpers import CAT, geotiff_of, make_product
from click.testing import CliRunner

from rastercat.cli.main import cli


def test_upload_sends_parts_in_parallel_with_a_bar(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory()
    pid = make_product(server)
    tif = geotiff_of(tmp_path / "cli.tif", 3)
    env = {"RASTERCAT_URL": server.url, "RASTERCAT_TOKEN": server.token("alice"),
           "RASTERCAT_UPLOAD_THRESHOLD_BYTES": str(2**20),
           "RASTERCAT_UPLOAD_STATE_DIR": str(tmp_path / "state")}  # fmt: skip
    out = CliRunner().invoke(
        cli, ["upload", pid, str(tif), "--part-size", "1", "--parallel", "2", "--progress"], env=env
    )
    assert out.exit_code == 0, out.output
    assert "cli.tif\tSUCCESS" in out.output
    assert "cli.tif:" in out.output and "B/s" in out.output  # tqdm: name, bytes, rate
    parts = -(-tif.stat().st_size // 2**20)
    service = server.state.multipart
    assert sum(service.received.values()) == parts
    doc = server.client("alice").get(f"{CAT}/products/{pid}/uploads/cli.tif").json()
    assert doc["data"]["attributes"]["sha256"] == hashlib.sha256(tif.read_bytes()).hexdigest()
    assert list((tmp_path / "state").glob("*")) == []

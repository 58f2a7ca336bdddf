"""`rastercat upload` and `rastercat search` against a live server."""

from __future__ import annotations

from typing import Any

import numpy as np
from click.testing import CliRunner

from helpers import write_geotiff
from rastercat.cli.main import cli


def test_upload_wait_and_search(live_server: Any, tmp_path: Any, unique: str) -> None:
    c = live_server.client("cli-user")
    pid = c.post("/metadata/v1/catalog/products",
                 json={"id": f"cli-{unique}", "title": "T", "description": "D"}).json()["data"]["id"]  # fmt: skip
    c.post(f"/metadata/v1/catalog/products/{pid}/bands",
           json=dict(name="b", srcband=1, nbits=16, dtype="UInt16", data_range=[0, 65535], type="spectral"))  # fmt: skip
    files = [
        write_geotiff(tmp_path / f"{k}.tif", np.full((16, 16), i, "uint16"))
        for i, k in enumerate("xy")
    ]
    env = {"RASTERCAT_URL": live_server.url, "RASTERCAT_TOKEN": live_server.token("cli-user")}
    runner = CliRunner()
    out = runner.invoke(cli, ["upload", pid, *map(str, files), "--acquired", "2020-05-01"], env=env)
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    assert [line.split("\t")[:2] for line in lines] == [["x.tif", "SUCCESS"], ["y.tif", "SUCCESS"]]
    out = runner.invoke(
        cli,
        [
            "search",
            pid,
            "--bbox",
            "-180,-90,180,90",
            "--start",
            "2020-01-01",
            "--end",
            "2020-12-31",
        ],
        env=env,
    )
    assert out.exit_code == 0, out.output
    assert sorted(line.split("\t")[0] for line in out.output.strip().splitlines()) == [
        f"{pid}:x",
        f"{pid}:y",
    ]
    assert "16x16" in out.output
    bad = runner.invoke(cli, ["upload", f"{pid}-nope", str(files[0])], env=env)
    assert bad.exit_code != 0 and "404" in bad.output
    multi = runner.invoke(cli, ["upload", pid, str(files[0]), "--multi"], env=env)
    assert multi.exit_code != 0 and "--image-id" in multi.output

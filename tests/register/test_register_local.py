"""Registering local files in place through the real HTTP app, the SDK and the CLI."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

import rastercat as rc
from helpers import wait_for, write_geotiff
from rastercat.cli.main import cli
from rastercat.config import RegisterSettings
from register.conftest import CAT, GT, UTM43, pixels, register, stored_files, write_cog


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def read_back(pid: str, key: str, side: int = 300) -> np.ndarray:
    bounds = (GT[0], GT[3] - side * 30, GT[0] + side * 30, GT[3])
    arr, _ = rc.Raster().ndarray(
        [f"{pid}:{key}"], bands=["b"], resolution=30, srs=UTM43, bounds=bounds
    )
    return arr


def test_a_cog_is_recorded_in_place(
    server: Any, alice: httpx.Client, product: str, cogs: Path, catalog_env: None
) -> None:
    data = pixels(1)
    src = write_cog(cogs / "scene-1.tif", data)
    before = (md5(src), stored_files(server))
    r = register(alice, product, {"href": str(src), "acquired": "2021-06-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    (result,) = r.json()["data"]
    assert result["status"] == "SUCCESS" and result["in_place"] is True
    assert result["id"] == f"{product}:scene-1"
    assert (md5(src), stored_files(server)) == before  # not copied, not changed
    attrs = alice.get(f"{CAT}/products/{product}/images/scene-1").json()["data"]["attributes"]
    assert attrs["files"] == [str(src)] and attrs["file_md5s"] == [md5(src)]
    assert attrs["acquired"].startswith("2021-06-01")
    assert attrs["raster_size"] == [300, 300] and attrs["geotrans"] == list(GT)
    assert attrs["statistics"][0]["max"] == float(data.max())
    ids = rc.Metadata().ids(products=[product], limit=None)
    assert ids == [f"{product}:scene-1"]
    assert (read_back(product, "scene-1") == data).all()


def test_deleting_keeps_the_original(
    server: Any, alice: httpx.Client, product: str, cogs: Path, catalog_env: None
) -> None:
    src = write_cog(cogs / "keep.tif", pixels(2))
    digest = md5(src)
    assert register(alice, product, str(src)).status_code == 200
    assert alice.delete(f"{CAT}/products/{product}/images/keep").status_code == 204
    assert src.is_file() and md5(src) == digest
    # ... and through a cascaded product deletion (the maintenance task).
    assert register(alice, product, str(src)).status_code == 200
    catalog = rc.Catalog()
    task = catalog.remove_product(product, cascade=True)["deletion_task"]
    wait_for(lambda: catalog.product_deletion_status(task)["completed"], what="deletion")
    assert catalog.product_deletion_status(task)["status"] == "SUCCESS"
    assert src.is_file() and md5(src) == digest


def test_a_non_cog_is_converted(
    server: Any, alice: httpx.Client, product: str, cogs: Path, catalog_env: None
) -> None:
    data = pixels(3, side=600)
    src = write_geotiff(cogs / "striped.tif", data, transform=GT)  # in strips, no overviews
    digest = md5(src)
    r = register(alice, product, str(src))
    assert r.status_code == 200, r.text
    (result,) = r.json()["data"]
    assert result["status"] == "PENDING" and result["in_place"] is False
    catalog = rc.Catalog()
    doc = catalog.wait_for_upload(product, result["upload_uid"], timeout=60, poll=0.1)
    logs = doc["data"]["attributes"]["logs"]
    assert f"registered from {src}" in logs and "converted to a COG" in logs
    assert "cannot be recorded in place (COG check failed" in logs
    row = server.state.repo.one(_images(), id=f"{product}:striped")
    assert row["storage_key"].startswith("products/")  # rastercat's own copy
    assert (read_back(product, "striped", side=600) == data).all()
    assert md5(src) == digest
    assert alice.delete(f"{CAT}/products/{product}/images/striped").status_code == 204
    assert src.is_file()


def _images() -> Any:
    from rastercat.store.sql import tables

    return tables.images


@pytest.mark.parametrize("how", ["outside", "dotdot", "symlink", "relative", "url", "bucket"])
def test_refused_locations_name_the_setting(
    alice: httpx.Client, product: str, cogs: Path, tmp_path: Path, how: str
) -> None:
    outside = write_cog(tmp_path / "outside.tif", pixels(4, side=64))
    href = {
        "outside": str(outside),
        "dotdot": f"{cogs}/../outside.tif",
        "symlink": str(cogs / "link.tif"),
        "relative": "cogs/x.tif",
        "url": "http://127.0.0.1:1/x.tif",
        "bucket": "s3://not-allowed/x.tif",
    }[how]
    if how == "symlink":
        os.symlink(outside, cogs / "link.tif")
    r = register(alice, product, href)
    assert r.status_code == 403, r.text
    setting = "BUCKETS" if how == "bucket" else "ROOTS"
    assert f"RASTERCAT_REGISTER__{setting}" in r.json()["errors"][0]["detail"]
    assert alice.get(f"{CAT}/products/{product}/images/outside").status_code == 404


def test_nothing_is_registrable_by_default(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(data_dir=tmp_path / "other")
    c = server.client("alice")
    pid = c.post(f"{CAT}/products", json={"id": "p", "title": "T", "description": "D"}).json()
    src = write_cog(tmp_path / "x.tif", pixels(5, side=64))
    r = register(c, pid["data"]["id"], str(src))
    assert r.status_code == 403 and "RASTERCAT_REGISTER__ROOTS" in r.text


def test_a_symlink_inside_the_root_is_followed(
    alice: httpx.Client, product: str, cogs: Path
) -> None:
    (cogs / "sub").mkdir()
    real = write_cog(cogs / "sub" / "real.tif", pixels(6, side=64))
    os.symlink(real, cogs / "alias.tif")
    r = register(alice, product, str(cogs / "alias.tif"))
    assert r.status_code == 200, r.text
    assert r.json()["data"][0]["href"] == str(real.resolve())


def test_a_vrt_named_tif_is_refused_like_an_upload(
    alice: httpx.Client, product: str, cogs: Path, tmp_path: Path
) -> None:
    secret = write_cog(tmp_path / "secret.tif", pixels(7, side=64))
    (cogs / "evil.tif").write_text(
        '<VRTDataset rasterXSize="64" rasterYSize="64"><VRTRasterBand dataType="UInt16" band="1">'
        f"<SimpleSource><SourceFilename>{secret}</SourceFilename><SourceBand>1</SourceBand>"
        "</SimpleSource></VRTRasterBand></VRTDataset>"
    )
    r = register(alice, product, str(cogs / "evil.tif"))
    assert r.status_code == 400, r.text
    assert "not a readable GeoTIFF or JPEG2000" in r.json()["errors"][0]["detail"]
    assert alice.get(f"{CAT}/products/{product}/images/evil").status_code == 404


def test_a_batch_is_checked_whole(alice: httpx.Client, product: str, cogs: Path) -> None:
    good = write_cog(cogs / "good.tif", pixels(8, side=64))
    r = register(alice, product, str(good), str(cogs / "missing.tif"))
    assert r.status_code == 400 and "missing.tif" in r.text
    assert alice.get(f"{CAT}/products/{product}/images/good").status_code == 404
    assert register(alice, product, str(good)).status_code == 200
    r = register(alice, product, str(good))
    assert r.status_code == 409 and "good" in r.text
    r = register(alice, product, {"href": str(good), "id": "g2", "read": ["group:x"]})
    assert r.status_code == 400


def test_only_writers_register(server: Any, alice: httpx.Client, product: str, cogs: Path) -> None:
    src = write_cog(cogs / "w.tif", pixels(9, side=64))
    bob = server.client("bob")
    assert register(bob, product, str(src)).status_code == 404
    assert register(bob, product, "/etc/passwd").status_code == 404  # no setting revealed


def test_cli_registers_many(server: Any, alice: httpx.Client, product: str, cogs: Path) -> None:
    files = [write_cog(cogs / f"c{i}.tif", pixels(10 + i, side=64)) for i in range(3)]
    files.append(write_geotiff(cogs / "plain.tif", pixels(20, side=600), transform=GT))
    env = {"RASTERCAT_URL": server.url, "RASTERCAT_TOKEN": server.token("alice")}
    out = CliRunner().invoke(
        cli, ["register", product, *map(str, files), "--batch-size", "2"], env=env
    )
    assert out.exit_code == 0, out.output
    lines = [line.split("\t") for line in out.output.strip().splitlines()]
    assert [(ln[1], ln[3]) for ln in lines] == [("SUCCESS", "in place")] * 3 + [
        ("SUCCESS", "converted")
    ]
    bad = CliRunner().invoke(cli, ["register", product, "/etc/hostname"], env=env)
    assert bad.exit_code != 0 and "RASTERCAT_REGISTER__ROOTS" in bad.output


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from rastercat.config import Settings

    monkeypatch.setenv("RASTERCAT_REGISTER__ROOTS", '["/data/cogs"]')
    monkeypatch.setenv("RASTERCAT_REGISTER__BUCKETS", '["archive"]')
    settings = Settings()
    assert settings.registration == RegisterSettings(
        roots=[Path("/data/cogs")], buckets=["archive"]
    )


def test_files_above_the_upload_limit_are_refused(
    server_factory: Any, cogs: Path, tmp_path: Path
) -> None:
    from rastercat.config import Limits

    server = server_factory(
        data_dir=tmp_path / "small",
        limits=Limits(max_upload_bytes=1000),
        registration=RegisterSettings(roots=[cogs]),
    )
    c = server.client("alice")
    pid = c.post(f"{CAT}/products", json={"id": "p", "title": "T", "description": "D"}).json()
    src = write_cog(cogs / "big.tif", pixels(40, side=64))
    r = register(c, pid["data"]["id"], str(src))
    assert r.status_code == 413 and "RASTERCAT_LIMITS__MAX_UPLOAD_BYTES" in r.text

"""The same ObjectStore contract on the local directory and on S3 (moto's server on 127.0.0.1)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from rastercat.config import S3Settings, Settings
from rastercat.errors import InvalidInput, StoreError
from rastercat.store.factory import object_store_from_settings
from rastercat.store.objects import LocalObjectStore
from rastercat.store.s3 import S3ObjectStore, gdal_s3_options


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    return request.getfixturevalue("s3_store")


def gdal_env(store: Any) -> Any:
    return store.gdal_env() if isinstance(store, S3ObjectStore) else contextlib.nullcontext()


def tif(path: Path, value: int = 7) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=1, dtype="uint8",
                       crs="EPSG:4326", transform=from_origin(0, 16, 1, 1)) as ds:  # fmt: skip
        ds.write(np.full((1, 16, 16), value, dtype="uint8"))
    return path


def test_put_moves_the_file_in_and_gdal_reads_it_in_place(store: Any, tmp_path: Path) -> None:
    src = tif(tmp_path / "a.tif", 9)
    store.put_file(src, "products/p1/a.tif")
    assert not src.exists()
    assert store.exists("products/p1/a.tif")
    assert store.size("products/p1/a.tif") > 0
    with gdal_env(store), rasterio.open(store.gdal_path("products/p1/a.tif")) as ds:
        assert int(ds.read(1).sum()) == 9 * 256


def test_fetch_gives_a_local_copy(store: Any, tmp_path: Path) -> None:
    store.put_file(tif(tmp_path / "a.tif", 3), "uploads/u1/scene.tif")
    local = store.fetch("uploads/u1/scene.tif", tmp_path / "work")
    with rasterio.open(local) as ds:
        assert int(ds.read(1)[0, 0]) == 3
    assert not [p for p in (tmp_path / "work").glob("*partial*")]


def test_list_is_by_folder_and_sorted(store: Any, tmp_path: Path) -> None:
    for key in ("products/b/2.tif", "products/a/1.tif", "products2/x.tif", "uploads/u/f.tif"):
        path = tmp_path / "f.bin"
        path.write_bytes(b"x")
        store.put_file(path, key)
    assert list(store.list("products")) == ["products/a/1.tif", "products/b/2.tif"]
    assert set(store.list()) == {"products/b/2.tif", "products/a/1.tif", "products2/x.tif",
                                 "uploads/u/f.tif"}  # fmt: skip


def test_delete_is_idempotent(store: Any, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    store.put_file(path, "products/p/f.bin")
    store.delete("products/p/f.bin")
    store.delete("products/p/f.bin")
    assert not store.exists("products/p/f.bin")
    assert list(store.list("products")) == []


def test_missing_objects(store: Any, tmp_path: Path) -> None:
    assert not store.exists("products/none.tif")
    with pytest.raises(StoreError):
        store.fetch("products/none.tif", tmp_path / "work")


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "./a"])
def test_unsafe_keys_are_refused(store: Any, key: str) -> None:
    with pytest.raises(InvalidInput):
        store.exists(key)


# S3 only ------------------------------------------------------------------------------------------
def test_keys_stay_under_the_prefix(s3_store: S3ObjectStore, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x")
    s3_store.put_file(path, "products/p/f.bin")
    raw = s3_store.client.list_objects_v2(Bucket=s3_store.bucket)["Contents"]
    assert [o["Key"] for o in raw] == ["catalog/products/p/f.bin"]
    assert s3_store.gdal_path("products/p/f.bin") == (
        f"/vsis3/{s3_store.bucket}/catalog/products/p/f.bin"
    )


def test_presigned_put_goes_straight_to_the_bucket(s3_store: S3ObjectStore) -> None:
    url = s3_store.presign_put("uploads/u9/scene.tif", expires=60)
    r = httpx.put(url, content=b"0123456789")
    assert r.status_code == 200, r.text
    assert s3_store.size("uploads/u9/scene.tif") == 10
    # (moto does not check signatures, so a tampered URL cannot be tested against it.)


def test_unreachable_endpoint_is_a_store_error(tmp_path: Path) -> None:
    s3 = S3Settings(bucket="rc-none", endpoint_url="http://127.0.0.1:9", region="us-east-1",
                    access_key_id="k", secret_access_key="s")  # fmt: skip
    store = S3ObjectStore(s3)
    store.client.meta.config.retries = {"max_attempts": 1}
    with pytest.raises(StoreError):
        store.size("products/x.tif")


def test_a_bucket_is_required() -> None:
    with pytest.raises(StoreError, match="bucket"):
        S3ObjectStore(S3Settings())


def test_gdal_options_for_a_plain_http_endpoint() -> None:
    opts = gdal_s3_options(S3Settings(bucket="b", endpoint_url="http://127.0.0.1:9000"))
    assert opts["AWS_S3_ENDPOINT"] == "127.0.0.1:9000"
    assert opts["AWS_HTTPS"] == "NO" and opts["AWS_VIRTUAL_HOSTING"] == "FALSE"
    assert "AWS_ACCESS_KEY_ID" not in opts  # rasterio refuses credentials as plain options
    https = gdal_s3_options(S3Settings(bucket="b", endpoint_url="https://s3.example.org"))
    assert https["AWS_HTTPS"] == "YES"
    assert "AWS_S3_ENDPOINT" not in gdal_s3_options(S3Settings(bucket="b"))


def test_settings_choose_the_store(tmp_path: Path, s3_settings: S3Settings) -> None:
    assert isinstance(object_store_from_settings(Settings(data_dir=tmp_path)), LocalObjectStore)
    chosen = object_store_from_settings(Settings(data_dir=tmp_path, s3=s3_settings))
    assert isinstance(chosen, S3ObjectStore)


def test_s3_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RASTERCAT_S3__BUCKET", "from-env")
    monkeypatch.setenv("RASTERCAT_S3__ENDPOINT_URL", "http://127.0.0.1:9000")
    s = Settings(data_dir=tmp_path)
    assert s.s3.bucket == "from-env" and s.s3.endpoint_url == "http://127.0.0.1:9000"


def test_a_durable_put_stores_the_same_bytes(store: Any, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = np.random.default_rng(3).bytes(300_000)
    path.write_bytes(data)
    store.put_file(path, "products/p/cog.tif", durable=True)
    assert not path.exists()
    assert store.size("products/p/cog.tif") == len(data)
    local = store.fetch("products/p/cog.tif", tmp_path / "back")
    assert local.read_bytes() == data


def resident_bytes(path: Path) -> int:
    """Bytes of ``path`` in the page cache (util-linux ``fincore``)."""
    import shutil
    import subprocess

    if shutil.which("fincore") is None:
        pytest.skip("fincore (util-linux) is not installed")
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return int(out.strip())


def test_a_durable_local_put_leaves_the_file_on_disk_and_out_of_the_page_cache(
    tmp_path: Path,
) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    size = 16 * 2**20
    for key, durable in (("products/p/plain.bin", False), ("products/p/cog.tif", True)):
        src = tmp_path / "src.bin"
        src.write_bytes(np.random.default_rng(1).bytes(size))  # written, so in the page cache
        assert resident_bytes(src) > size // 2
        store.put_file(src, key, durable=durable)
        if durable:  # synced to disk (only clean pages can be dropped), then dropped
            assert resident_bytes(store.path(key)) < size // 10
        else:
            assert resident_bytes(store.path(key)) > size // 2
        assert store.path(key).stat().st_size == size

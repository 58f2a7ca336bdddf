"""Registering ``s3://`` objects in place, on moto's S3 in server mode on 127.0.0.1: the catalog
stores its own files in one bucket, and registers COGs from another without copying them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import write_geotiff
from rastercat.config import RegisterSettings
from rastercat.store.s3 import make_s3_client
from register.conftest import BAND, CAT, GT, UTM43, pixels, register, write_cog


@pytest.fixture
def archive(s3_store: Any) -> tuple[Any, str]:
    """A bucket of existing COGs beside the catalog's own."""
    client = make_s3_client(s3_store.settings)
    bucket = f"archive-{uuid.uuid4().hex[:10]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


@pytest.fixture
def s3_server(server_factory: Any, s3_store: Any, archive: tuple[Any, str]) -> Any:
    return server_factory(s3=s3_store.settings, registration=RegisterSettings(buckets=[archive[1]]))


def test_an_s3_cog_is_recorded_in_place(
    s3_server: Any, s3_store: Any, archive: tuple[Any, str], tmp_path: Path
) -> None:
    import rastercat as rc

    client, bucket = archive
    data = pixels(30)
    client.upload_file(str(write_cog(tmp_path / "a.tif", data)), bucket, "scenes/a.tif")
    alice = s3_server.client("alice")
    pid = alice.post(f"{CAT}/products", json={"id": "s3r", "title": "T", "description": "D"})
    pid = pid.json()["data"]["id"]
    assert alice.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201

    r = register(alice, pid, f"s3://{bucket}/scenes/a.tif")
    assert r.status_code == 200, r.text
    (result,) = r.json()["data"]
    assert result["status"] == "SUCCESS" and result["in_place"] is True
    assert list(s3_store.list("")) == []  # the catalog's storage holds no copy
    with s3_server.env("alice"):
        assert rc.Metadata().ids(products=[pid], limit=None) == [f"{pid}:a"]
        bounds = (GT[0], GT[3] - 300 * 30, GT[0] + 300 * 30, GT[3])
        arr, _ = rc.Raster().ndarray(
            [f"{pid}:a"], bands=["b"], resolution=30, srs=UTM43, bounds=bounds
        )
    assert np.array_equal(arr, data)

    assert alice.delete(f"{CAT}/products/{pid}/images/a").status_code == 204
    assert client.head_object(Bucket=bucket, Key="scenes/a.tif")["ContentLength"] > 0

    # Another bucket of the same endpoint is not registrable; a missing object is a 4xx/5xx
    # naming it, never a record.
    r = register(alice, pid, f"s3://{s3_store.bucket}/catalog/x.tif")
    assert r.status_code == 403 and "RASTERCAT_REGISTER__BUCKETS" in r.text
    r = register(alice, pid, f"s3://{bucket}/scenes/missing.tif")
    assert r.status_code in (400, 404, 503) and "missing.tif" in r.text


def test_an_s3_non_cog_is_converted(
    s3_server: Any, s3_store: Any, archive: tuple[Any, str], tmp_path: Path
) -> None:
    import rastercat as rc

    client, bucket = archive
    data = pixels(31, side=600)
    client.upload_file(str(write_geotiff(tmp_path / "p.tif", data, transform=GT)), bucket, "p.tif")
    alice = s3_server.client("alice")
    pid = alice.post(f"{CAT}/products", json={"id": "s3c", "title": "T", "description": "D"})
    pid = pid.json()["data"]["id"]
    assert alice.post(f"{CAT}/products/{pid}/bands", json=BAND).status_code == 201
    (result,) = register(alice, pid, f"s3://{bucket}/p.tif").json()["data"]
    assert result["status"] == "PENDING"
    with s3_server.env("alice"):
        doc = rc.Catalog().wait_for_upload(pid, result["upload_uid"], timeout=60, poll=0.1)
    assert f"registered from s3://{bucket}/p.tif" in doc["data"]["attributes"]["logs"]
    assert any(k.startswith("products/") for k in s3_store.list(""))
    assert alice.delete(f"{CAT}/products/{pid}/images/p").status_code == 204
    assert client.head_object(Bucket=bucket, Key="p.tif")["ContentLength"] > 0

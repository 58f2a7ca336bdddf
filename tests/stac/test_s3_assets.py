# ruff: noqa: F811  (fixtures imported from tests/scale/conftest.py are named as arguments)
"""On an S3 store the COG's href is the bucket's own presigned GET URL (bytes never pass through
the API), which GDAL reads through /vsicurl/ with no header. Runs on moto's S3 server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest

from scale.conftest import root_conftest, s3_endpoint  # noqa: F401
from stac.conftest import STAC


@pytest.fixture(scope="module")
def live_server(
    s3_endpoint: str, root_conftest: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:  # noqa: F811
    from rastercat.config import S3Settings
    from rastercat.store.s3 import S3ObjectStore

    s3 = S3Settings(bucket=f"rc-{uuid.uuid4().hex[:12]}", prefix="cat/", endpoint_url=s3_endpoint,
                    region="us-east-1", access_key_id="testing", secret_access_key="testing")  # fmt: skip
    S3ObjectStore(s3).ensure_bucket()
    settings = root_conftest.make_settings(tmp_path_factory.mktemp("stac-s3"), s3=s3)
    server = root_conftest.LiveServer(settings).start()
    try:
        yield server
    finally:
        server.stop()


def _item(uploaded: dict[str, Any]) -> dict[str, Any]:
    pid = uploaded["pid"]
    r = uploaded["client"].get(f"{STAC}/collections/{pid}/items/{quote(uploaded['id'], safe='')}")
    assert r.status_code == 200, r.text
    return r.json()


def test_data_href_is_a_presigned_get(uploaded: dict[str, Any], s3_endpoint: str) -> None:  # noqa: F811
    import rasterio

    href = _item(uploaded)["assets"]["data"]["href"]
    assert href.startswith(s3_endpoint) and "X-Amz-Signature" in href
    with (
        rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"),
        rasterio.open(f"/vsicurl/{href}") as src,
    ):
        np.testing.assert_array_equal(src.read(), uploaded["data"])
    # (moto does not check signatures, so a forged one cannot be tested here; S3 itself does.)


def test_thumbnail_reads_through_the_store(uploaded: dict[str, Any]) -> None:
    href = _item(uploaded)["assets"]["thumbnail"]["href"]
    r = httpx.get(href)
    assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n"

"""The SDK's Catalog against the real server (the lead's ``live_server`` fixture), guide step by step.

Nothing here mocks the server. The tests in the second half need the upload/ingest pipeline.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from rastercat.client.catalog import Catalog
from rastercat.client.uploads import poll
from rastercat.errors import (
    Conflict,
    Forbidden,
    IngestError,
    InvalidInput,
    NotFound,
    Unauthenticated,
)

WAIT = {"timeout": 60, "poll": 0.1}
GEOTRANS = [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0]
UTM43 = CRS.from_epsg(32643)


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Any:
    try:
        return request.getfixturevalue("live_server")
    except pytest.FixtureLookupError:
        pytest.skip("tests/conftest.py provides no live_server fixture yet")


@pytest.fixture
def catalog(server: Any) -> Iterator[Catalog]:
    with Catalog(url=server.url, token=server.token("sdk-alice")) as c:
        yield c


@pytest.fixture
def other(server: Any) -> Iterator[Catalog]:
    with Catalog(url=server.url, token=server.token("sdk-bob")) as c:
        yield c


def _new_product(catalog: Catalog, **kwargs: Any) -> str:
    pid = f"sdk-{uuid.uuid4().hex[:12]}"
    return catalog.add_product(
        pid, title="SDK test", description="made by the SDK tests", **kwargs
    )["data"]["id"]


def _blue(catalog: Catalog, pid: str, **kwargs: Any) -> dict[str, Any]:
    return catalog.add_band(
        pid,
        "blue",
        srcfile=0,
        srcband=1,
        nbits=14,
        dtype="UInt16",
        data_range=[0, 10000],
        physical_range=[0, 1],
        type="spectral",
        **kwargs,
    )


@pytest.fixture
def product(catalog: Catalog) -> str:
    return _new_product(catalog)


# -- products ----------------------------------------------------------------------------------


def test_add_product_prefixes_the_namespace(catalog):
    name = f"example-product{uuid.uuid4()}"
    doc = catalog.add_product(name, title="Example Product", description="An example product")
    assert doc["data"]["id"] == f"{catalog.namespace}:{name}"
    attrs = doc["data"]["attributes"]
    assert attrs["title"] == "Example Product"
    assert attrs["owners"] == [f"user:{catalog.namespace}"]
    assert catalog.get_product(doc["data"]["id"])["data"]["id"] == doc["data"]["id"]


def test_add_namespace_does_not_double_prefix(catalog):
    name = f"p{uuid.uuid4().hex[:8]}"
    doc = catalog.add_product(name, title="t", description="d", add_namespace=True)
    pid = f"{catalog.namespace}:{name}"
    assert doc["data"]["id"] == pid
    assert catalog.get_product(name, add_namespace=True)["data"]["id"] == pid


def test_duplicate_product_is_a_conflict(catalog, product):
    name = product.split(":", 1)[1]
    with pytest.raises(Conflict):
        catalog.add_product(name, title="again", description="again")


def test_unknown_product_is_not_found(catalog):
    with pytest.raises(NotFound):
        catalog.get_product(f"{catalog.namespace}:no-such-product")
    with pytest.raises(NotFound):
        catalog.change_product(f"{catalog.namespace}:no-such-product", notes="x")


def test_change_and_replace_product(catalog, product):
    doc = catalog.change_product(product, notes="some notes", resolution=15)
    assert doc["data"]["attributes"]["notes"] == "some notes"
    assert doc["data"]["attributes"]["title"] == "SDK test"
    doc = catalog.replace_product(product, title="New title", description="New description")
    assert doc["data"]["attributes"]["title"] == "New title"
    assert doc["data"]["attributes"]["description"] == "New description"


def test_sharing_with_set_global_permissions(catalog, other, product):
    _blue(catalog, product)
    doc = catalog.change_product(product, read=["some:group"], set_global_permissions=True)
    assert doc["data"]["attributes"]["read"] == ["group:some:group"]
    with pytest.raises(NotFound):  # bob is not in some:group
        other.get_product(product)


def test_others_cannot_see_or_change_a_private_product(catalog, other, product):
    with pytest.raises(NotFound):
        other.get_product(product)
    with pytest.raises((NotFound, Forbidden)):
        other.change_product(product, notes="mine now")


def test_readers_cannot_change_a_shared_product(server, catalog, product):
    reader_token = server.token("sdk-carol", groups=("sdk-readers",))
    catalog.change_product(product, read=["sdk-readers"])
    with Catalog(url=server.url, token=reader_token) as reader:
        assert reader.get_product(product)["data"]["id"] == product
        with pytest.raises(Forbidden):
            reader.change_product(product, notes="not allowed")


def test_bad_token_is_unauthenticated(server):
    with Catalog(url=server.url, token="x.eyJzdWIiOiJub2JvZHkifQ.y") as c:
        with pytest.raises(Unauthenticated):
            c.get_product("anything")


def test_missing_title_is_a_type_error_without_a_request(catalog):
    with pytest.raises(TypeError):
        catalog.add_product("p", title=None, description="d")


def test_own_products_and_bands(catalog, other, product):
    _blue(catalog, product)
    mine = [p["id"] for p in catalog.own_products()]
    assert product in mine
    assert product not in [p["id"] for p in other.own_products()]
    assert f"{product}:blue" in [b["id"] for b in catalog.own_bands()]


def test_remove_empty_product_without_cascade(catalog, product):
    assert catalog.remove_product(product) is None
    with pytest.raises(NotFound):
        catalog.get_product(product)


def test_remove_product_with_children_needs_cascade(catalog, product):
    _blue(catalog, product)
    # The issues ask for 409 (the object is still in use); protocol §2.6 "later docs" said 400.
    with pytest.raises(Conflict, match="cascade"):
        catalog.remove_product(product, cascade=False)
    catalog.get_product(product)  # still there


def test_cascade_delete_and_deletion_status(catalog, product):
    _blue(catalog, product)
    catalog.add_image(product, "meta-only", acquired="2018-01-01T00:00:00+00:00")
    result = catalog.remove_product(product, cascade=True)
    assert isinstance(result, dict) and result["deletion_task"]
    task = result["deletion_task"]

    def finished() -> dict[str, Any] | None:
        status = catalog.product_deletion_status(task)
        return status if status["completed"] else None

    status = poll(finished, timeout=30, interval=0.05, what="deletion task")
    assert status["completed"]
    with pytest.raises(NotFound):
        catalog.get_product(product)
    with pytest.raises(NotFound):
        catalog.get_image(product, "meta-only")


def test_unknown_deletion_task_is_not_found(catalog):
    with pytest.raises(NotFound):
        catalog.product_deletion_status("no-such-task")


# -- bands ---------------------------------------------------------------------------------------


def test_add_band_id_is_product_id_plus_name(catalog, product):
    doc = _blue(catalog, product)
    band_id = doc["data"]["id"]
    assert band_id == product + ":blue"
    attrs = doc["data"]["attributes"]
    assert attrs["dtype"] == "UInt16"
    assert attrs["data_range"] == [0, 10000]
    # by name and by full id
    assert catalog.get_band(product, "blue")["data"]["id"] == band_id
    assert catalog.get_band(product, band_id)["data"]["id"] == band_id


def test_duplicate_band_is_a_conflict(catalog, product):
    _blue(catalog, product)
    with pytest.raises(Conflict):
        _blue(catalog, product)


def test_band_on_unknown_product_and_unknown_band(catalog, product):
    with pytest.raises(NotFound):
        _blue(catalog, f"{catalog.namespace}:no-such-product")
    with pytest.raises(NotFound):
        catalog.get_band(product, "nope")


def test_invalid_band_is_rejected_by_the_server(catalog, product):
    with pytest.raises(InvalidInput):
        catalog.add_band(
            product, "bad", srcband=1, dtype="NotAType", nbits=8, data_range=[0, 1], type="spectral"
        )


def test_change_band_colormaps(catalog, product):
    band_id = _blue(catalog, product)["data"]["id"]
    doc = catalog.change_band(product, band_id, colormap_name="magma")
    assert doc["data"]["attributes"]["colormap_name"] == "magma"
    rng = np.random.default_rng(1)
    colormap = [[str(v) for v in rng.integers(0, 256, 4)] for _ in range(256)]
    doc = catalog.change_band(product, band_id, colormap=colormap)
    assert doc["data"]["attributes"]["colormap"] == colormap
    assert catalog.get_band(product, "blue")["data"]["attributes"]["colormap"] == colormap


def test_replace_band(catalog, product):
    _blue(catalog, product)
    doc = catalog.replace_band(
        product, "blue", srcband=1, dtype="Byte", nbits=8, data_range=[0, 255], type="spectral"
    )
    assert doc["data"]["attributes"]["dtype"] == "Byte"
    assert doc["data"]["id"] == product + ":blue"


def test_remove_band(catalog, product):
    _blue(catalog, product)
    assert catalog.remove_band(product, "blue") is None
    with pytest.raises(NotFound):
        catalog.get_band(product, "blue")
    with pytest.raises(NotFound):
        catalog.remove_band(product, "blue")


# -- images (metadata only) ----------------------------------------------------------------------


def test_image_add_change_get_remove(catalog, product):
    doc = catalog.add_image(
        product, "img1", acquired="2018-11-27T17:33:55+00:00", cloud_fraction=0.3
    )
    image_id = doc["data"]["id"]
    assert image_id == product + ":img1"
    doc = catalog.change_image(
        product, image_id, cloud_fraction=0.1, extra_properties={"source": "guide"}
    )
    attrs = doc["data"]["attributes"]
    assert attrs["cloud_fraction"] == 0.1
    assert attrs["extra_properties"] == {"source": "guide"}
    got = catalog.get_image(product, "img1")
    assert got["data"]["attributes"]["cloud_fraction"] == 0.1
    assert catalog.get_image(product, image_id)["data"]["id"] == image_id
    assert catalog.remove_image(product, image_id) is None
    with pytest.raises(NotFound):
        catalog.get_image(product, "img1")


def test_duplicate_and_unknown_images(catalog, product):
    catalog.add_image(product, "img1")
    with pytest.raises(Conflict):
        catalog.add_image(product, "img1")
    with pytest.raises(NotFound):
        catalog.change_image(product, "nope", cloud_fraction=0.5)


# -- uploads and ingest (need the upload routes and the ingest worker) ------------------------------


def _geotiff(path: Path, bands: int = 1, dtype: str = "uint16") -> np.ndarray:
    data = (np.arange(bands * 32 * 48, dtype="uint32") % 10000).astype(dtype).reshape(bands, 32, 48)
    profile = {
        "driver": "GTiff",
        "width": 48,
        "height": 32,
        "count": bands,
        "dtype": dtype,
        "crs": UTM43,
        "transform": Affine.from_gdal(*GEOTRANS),
    }
    with rasterio.Env(), rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return data


def test_upload_image_then_wait_and_results(catalog, product, tmp_path):
    _blue(catalog, product)
    path = tmp_path / "blue.tif"
    _geotiff(path)
    upload_id = catalog.upload_image(str(path), product, acquired="2018-01-01T00:00:00+00:00")
    assert upload_id == "blue.tif"
    image = catalog.wait_for_image(product, "blue", **WAIT)
    attrs = image["data"]["attributes"]
    assert image["data"]["id"] == product + ":blue"
    assert attrs["raster_size"] == [48, 32]
    assert attrs["geotrans"] == pytest.approx(GEOTRANS)
    assert attrs["acquired"].startswith("2018-01-01")

    result = catalog.wait_for_upload(product, upload_id, **WAIT)
    assert result["data"]["attributes"]["status"] == "SUCCESS"
    assert catalog.upload_result(product, "blue.tif")["data"]["id"] == "blue.tif"
    ids = [r["id"] for r in catalog.iter_upload_results(product)]
    assert "blue.tif" in ids
    assert [r["id"] for r in catalog.iter_upload_results(product, status="FAILURE")] == []


def test_upload_results_pages_with_continuation_tokens(catalog, product, tmp_path):
    _blue(catalog, product)
    for name in ("a.tif", "b.tif"):
        _geotiff(tmp_path / name)
        catalog.wait_for_upload(product, catalog.upload_image(tmp_path / name, product), **WAIT)
    first = catalog.upload_results(product, limit=1)
    assert len(first["data"]) == 1
    assert first["meta"]["continuation_token"] is not None
    second = catalog.upload_results(
        product, limit=1, continuation_token=first["meta"]["continuation_token"]
    )
    assert {first["data"][0]["id"], second["data"][0]["id"]} == {"a.tif", "b.tif"}
    assert sorted(r["id"] for r in catalog.iter_upload_results(product)) == ["a.tif", "b.tif"]


def test_upload_ndarray_single_band(catalog, product):
    catalog.add_band(
        product, "bright", srcband=1, dtype="UInt16", nbits=16, data_range=[0, 65535], type="mask"
    )
    arr = np.arange(32 * 48, dtype="uint16").reshape(32, 48)
    upload_id = catalog.upload_ndarray(
        arr,
        product,
        "bright",
        wkt_srs=UTM43.to_wkt(),
        geotrans=GEOTRANS,
        overviews=[2],
        overview_resampler="average",
    )
    assert upload_id == "bright"
    image = catalog.wait_for_image(product, "bright", **WAIT)
    assert image["data"]["attributes"]["raster_size"] == [48, 32]
    assert image["data"]["attributes"]["geotrans"] == pytest.approx(GEOTRANS)
    assert catalog.wait_for_upload(product, upload_id, **WAIT)


def test_upload_ndarray_bands_last_with_raster_meta(catalog, product):
    _blue(catalog, product)
    catalog.add_band(
        product, "bright", srcband=2, dtype="UInt16", nbits=16, data_range=[0, 65535], type="mask"
    )
    arr = np.arange(32 * 48, dtype="uint16").reshape(32, 48)
    stacked = np.ma.masked_array(
        np.stack([arr, arr[::-1]], axis=-1), mask=np.stack([arr < 5] * 2, axis=-1)
    )
    raster_meta = {"geoTransform": GEOTRANS, "coordinateSystem": {"wkt": UTM43.to_wkt()}}
    catalog.upload_ndarray(stacked, product, "blue-bright", raster_meta=raster_meta)
    image = catalog.wait_for_image(product, product + ":blue-bright", **WAIT)
    assert image["data"]["id"] == product + ":blue-bright"
    assert image["data"]["attributes"]["raster_size"] == [48, 32]


def test_ndarray_that_does_not_match_the_bands_fails_with_the_reason(catalog, product):
    _blue(catalog, product)
    catalog.add_band(
        product, "bright", srcband=2, dtype="UInt16", nbits=16, data_range=[0, 65535], type="mask"
    )
    arr = np.zeros((32, 48), dtype="uint16")
    catalog.upload_ndarray(
        arr, product, "one-band", proj4="+proj=utm +zone=43 +datum=WGS84", geotrans=GEOTRANS
    )
    with pytest.raises(IngestError, match="srcband 2"):
        catalog.wait_for_image(product, "one-band", **WAIT)


def test_multi_file_upload_makes_one_image(catalog, product, tmp_path):
    catalog.add_band(
        product,
        "cloud-mask",
        srcfile=0,
        srcband=1,
        dtype="UInt16",
        nbits=1,
        data_range=[0, 1],
        type="mask",
    )
    catalog.add_band(
        product,
        "bright-mask",
        srcfile=1,
        srcband=1,
        dtype="UInt16",
        nbits=1,
        data_range=[0, 1],
        type="mask",
    )
    files = [tmp_path / "cloud-mask.tif", tmp_path / "bright-mask.tif"]
    for f in files:
        _geotiff(f)
    ids = catalog.upload_image([str(f) for f in files], product, multi=True, image_id="multi1")
    assert ids == ["cloud-mask.tif", "bright-mask.tif"]
    image = catalog.wait_for_image(product, "multi1", **WAIT)
    assert image["data"]["id"] == product + ":multi1"


def test_failed_ingest_raises_ingest_error_with_the_log(catalog, product, tmp_path):
    _blue(catalog, product)
    bad = tmp_path / "broken.tif"
    bad.write_bytes(b"this is not a raster at all\n" * 10)
    upload_id = catalog.upload_image(bad, product)
    with pytest.raises(IngestError) as info:
        catalog.wait_for_image(product, "broken", **WAIT)
    assert "broken.tif" in str(info.value)
    with pytest.raises(IngestError):
        catalog.wait_for_upload(product, upload_id, **WAIT)
    failed = [r["id"] for r in catalog.iter_upload_results(product, status="FAILURE")]
    assert failed == ["broken.tif"]


def test_upload_to_unknown_product_is_not_found(catalog, tmp_path):
    path = tmp_path / "blue.tif"
    _geotiff(path)
    with pytest.raises(NotFound):
        catalog.upload_image(path, f"{catalog.namespace}:no-such-product")


def test_upload_to_someone_elses_product_is_refused(catalog, other, product, tmp_path):
    path = tmp_path / "blue.tif"
    _geotiff(path)
    with pytest.raises((NotFound, Forbidden)):
        other.upload_image(path, product)


def test_wait_for_image_times_out(catalog, product):
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        catalog.wait_for_image(product, "never", timeout=0.3, poll=0.1)
    assert time.monotonic() - start < 5


def test_unknown_upload_result_is_not_found(catalog, product):
    with pytest.raises(NotFound):
        catalog.upload_result(product, "nothing.tif")


def test_catalog_reads_url_and_token_from_the_environment(server, catalog, product):
    import rastercat as rc

    with server.env("sdk-alice"), rc.Catalog() as from_env:
        assert from_env.namespace == catalog.namespace
        assert from_env.get_product(product)["data"]["id"] == product

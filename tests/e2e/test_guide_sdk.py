"""The Catalog guide, every section, as written, with ``import rastercat as rc``.

The guide polls ``Scene.from_id`` with ``sleep(2)``; here the same loop polls with a deadline.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path
from random import randint
from typing import Any

import numpy as np
import pytest
import rasterio

import rastercat as rc
from helpers import write_geotiff

UTM43 = "EPSG:32643"
GT = (391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0)


def poll_scene(image_id: str, timeout: float = 60) -> tuple[Any, Any]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return rc.scenes.Scene.from_id(image_id)
        except rc.errors.NotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture
def guide(live_server: Any, tmp_path: Path) -> Any:
    with live_server.env("guide-user"):
        yield {
            "catalog": rc.Catalog(),
            "metadata": rc.Metadata(),
            "tmp": tmp_path,
            "new_id": str(uuid.uuid4()),
        }


def test_basic_example(guide: dict[str, Any]) -> None:
    catalog_client, metadata_client, new_id = guide["catalog"], guide["metadata"], guide["new_id"]

    # Create a product
    product_id = catalog_client.add_product(
        "example-product" + new_id, title="Example Product", description="An example product"
    )["data"]["id"]
    ns = hashlib.sha1(b"guide-user").hexdigest()
    assert product_id == f"{ns}:example-product{new_id}"

    # Create band(s)
    band_id = catalog_client.add_band(
        product_id=product_id, name="blue", srcfile=0, srcband=1, nbits=14, dtype="UInt16",
        data_range=[0, 10000], physical_range=[0, 1], type="spectral",
    )["data"]["id"]  # fmt: skip
    assert band_id == f"{product_id}:blue"

    # Uploading Data to the Catalog
    blue = (np.arange(858 * 1204, dtype="uint32").reshape(858, 1204) % 10000).astype("uint16")
    image_path = write_geotiff(guide["tmp"] / "blue.tif", blue, crs=UTM43, transform=GT)
    catalog_client.upload_image(str(image_path), product_id)
    processed_image_id = "{}:{}".format(product_id, "blue")
    image, ctx = poll_scene(processed_image_id)
    assert image.properties.id == processed_image_id
    assert "blue: UInt16, [0, 10000] -> [0, 1]" in repr(image)
    assert image.properties.raster_size == [1204, 858]
    assert image.properties.geotrans == list(GT)

    # Working with the data / Viewing the image
    arr = image.ndarray("blue", ctx, mask_alpha=False)
    assert arr.shape == (1, 858, 1204) and arr.dtype == np.uint16
    np.testing.assert_array_equal(arr.data[0], blue)
    import matplotlib

    matplotlib.use("Agg")
    fig = rc.scenes.display(arr)
    assert fig is not None

    # Modifying the bands
    response = catalog_client.change_band(product_id, band_id, colormap_name="magma")
    assert response["data"]["attributes"]["colormap_name"] == "magma"
    bad_colormap = [[str(randint(0, 255)) for i in range(4)] for i in range(256)]
    response = catalog_client.change_band(product_id, band_id, colormap=bad_colormap)
    assert response["data"]["attributes"]["colormap"] == bad_colormap

    # Sharing the product
    response = catalog_client.change_product(
        product_id, read=["some:group"], set_global_permissions=True
    )
    assert response["data"]["attributes"]["read"] == ["group:some:group"]

    # Adding Custom Metadata
    acquired = "2018-11-27T17:33:55.960134+00:00"
    doc = catalog_client.change_image(product_id, processed_image_id, acquired=acquired)
    attrs = doc["data"]["attributes"]
    assert attrs["acquired"] == acquired
    for key in ("bucket", "directory", "file_md5s", "file_sizes", "files", "geometry", "geotrans",
                "identifier", "key", "owners", "processed", "proj4", "raster_size", "read", "writers",
                "descartes_version"):  # fmt: skip
        assert key in attrs, key
    assert attrs["owners"] == [f"user:{ns}"] and attrs["key"] == "blue"
    assert attrs["identifier"] == f"{product_id}/blue.tif"
    assert doc["data"]["relationships"]["product"]["data"]["id"] == product_id
    # The background job shares the image too (the guide: "can take some time").
    deadline = time.monotonic() + 30
    while catalog_client.get_image(product_id, "blue")["data"]["attributes"]["read"] != [
        "group:some:group"
    ]:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    # Search for it with the Metadata API
    fc = metadata_client.search(products=[product_id])
    assert [f["id"] for f in fc["features"]] == [processed_image_id]
    results = list(catalog_client.iter_upload_results(product_id))
    assert [r["attributes"]["status"] for r in results] == ["SUCCESS"]
    log = catalog_client.upload_result(product_id, "blue.tif")["data"]["attributes"]["logs"]
    assert "SUCCESS" in log

    # Cleaning Up
    out = catalog_client.remove_product(product_id, cascade=True)
    assert set(out) == {"deletion_task"}
    deadline = time.monotonic() + 30
    while not catalog_client.product_deletion_status(out["deletion_task"])["completed"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with pytest.raises(rc.errors.NotFound):
        rc.scenes.Scene.from_id(processed_image_id)


def test_multi_image_scene(guide: dict[str, Any]) -> None:
    catalog_client, new_id = guide["catalog"], guide["new_id"]
    product_id = catalog_client.add_product(
        "masks" + new_id,
        title="Cloud and Brightness masks",
        description="Cloud and Brightness masks",
    )["data"]["id"]
    for name, srcfile in (("cloud-mask", 0), ("bright-mask", 1)):
        catalog_client.add_band(
            product_id=product_id, name=name, jpx_layer=0, srcfile=srcfile, srcband=1, nbits=1,
            dtype="UInt16", nodata=0, data_range=[0, 1], type="mask",
        )  # fmt: skip
    rng = np.random.default_rng(0)
    cloud = rng.integers(0, 2, (48, 64), dtype="uint16")
    bright = rng.integers(0, 2, (48, 64), dtype="uint16")
    cloud_image_path = write_geotiff(
        guide["tmp"] / "cloud-mask.tif", cloud, crs=UTM43, transform=GT
    )
    bright_image_path = write_geotiff(
        guide["tmp"] / "bright-mask.tif", bright, crs=UTM43, transform=GT
    )
    image_id = "_".join(["test_multi_image_scene", str(uuid.uuid4())])
    catalog_client.upload_image(
        [str(cloud_image_path), str(bright_image_path)], product_id, multi=True, image_id=image_id
    )
    scene, ctx = poll_scene(f"{product_id}:{image_id}")
    arr = scene.ndarray("cloud-mask bright-mask", ctx, mask_alpha=False, mask_nodata=False)
    np.testing.assert_array_equal(arr.data[0], cloud)
    np.testing.assert_array_equal(arr.data[1], bright)
    masked = scene.ndarray("cloud-mask", ctx, mask_alpha=False)
    np.testing.assert_array_equal(masked.mask[0], cloud == 0)
    assert "deletion_task" in catalog_client.remove_product(product_id, cascade=True)


def test_upload_ndarray_single_and_multi_band(guide: dict[str, Any]) -> None:
    catalog_client, new_id = guide["catalog"], guide["new_id"]
    # A source scene to derive from (the guide uses a Landsat scene of the platform).
    src_pid = catalog_client.add_product("landsat-like" + new_id, title="src", description="src")[
        "data"
    ]["id"]
    catalog_client.add_band(
        src_pid, "bright-mask", srcband=1, dtype="UInt16", nbits=1, data_range=[0, 1], type="mask"
    )
    catalog_client.add_band(
        src_pid, "blue", srcband=2, dtype="UInt16", nbits=14, data_range=[0, 10000], type="spectral"
    )
    # Like the platform's Landsat products, the source has an alpha band, so the guide's
    # ndarray calls work exactly as written (mask_alpha defaults to True).
    catalog_client.add_band(
        src_pid, "alpha", srcband=3, dtype="UInt16", nbits=1, data_range=[0, 1], type="mask",
        color="Alpha",
    )  # fmt: skip
    rng = np.random.default_rng(1)
    alpha = np.ones((96, 128))
    alpha[:, :10] = 0  # a strip without data on the west edge
    data = np.stack(
        [rng.integers(0, 2, (96, 128)), rng.integers(0, 10000, (96, 128)), alpha]
    ).astype("uint16")
    path = write_geotiff(
        guide["tmp"] / "scene.tif",
        data,
        crs=UTM43,
        transform=(391395.0, 30.0, 0.0, 5596530.0, 0.0, -30.0),
    )
    catalog_client.upload_image(str(path), src_pid)
    scene, geoctx = poll_scene(f"{src_pid}:scene")

    # Uploading a single band ndarray
    product_id = catalog_client.add_product(
        "bright-ndarray" + new_id,
        title="bright mask ndarray upload",
        description="bright mask ndarray upload",
    )["data"]["id"]
    arr, raster_meta = scene.ndarray(
        "bright-mask",
        geoctx.assign(resolution=150),
        raster_info=True,  # return georeferencing info we need to re-upload
    )
    assert arr.shape == (1, 19, 26)
    assert arr.mask[0, :, 0].all() and not arr.mask[0, :, 5:].any()  # alpha == 0 is masked
    catalog_client.add_band(
        product_id=product_id, name="bright-mask", jpx_layer=0, srcfile=0, srcband=1, default_range=[0, 1],
        nbits=1, color="Gray", dtype="UInt16", data_range=[0, 1], nodata=None, type="mask",
    )  # fmt: skip
    catalog_client.upload_ndarray(
        arr[0],
        product_id,
        "bright",
        raster_meta=raster_meta,
        overviews=[2, 4],
        overview_resampler="average",
    )
    bright, bctx = poll_scene(f"{product_id}:bright")
    back = bright.ndarray("bright-mask", bctx, mask_alpha=False)
    np.testing.assert_array_equal(back.data, arr.data)
    assert bctx.resolution == 150
    # The derived image lines up with its source on the source's grid.
    on_src = bright.ndarray("bright-mask", geoctx.assign(resolution=150), mask_alpha=False)
    np.testing.assert_array_equal(on_src.data, arr.data)
    catalog_client.remove_product(product_id, cascade=True)

    # Uploading multi-band ndarray
    product_id = catalog_client.add_product(
        "blue-bright-ndarray" + new_id, title="blue and bright mask ndarray upload",
        description="blue and bright mask ndarray upload",
    )["data"]["id"]  # fmt: skip
    arr, raster_meta = scene.ndarray(
        "bright-mask blue", geoctx.assign(resolution=150), raster_info=True, bands_axis=-1
    )
    assert arr.shape == (19, 26, 2)
    catalog_client.add_band(
        product_id=product_id, name="bright-mask", jpx_layer=0, srcfile=0, srcband=1, default_range=[0, 1],
        nbits=1, color="Gray", dtype="UInt16", data_range=[0, 1], nodata=None, type="mask",
    )  # fmt: skip
    catalog_client.add_band(
        product_id=product_id, name="blue", jpx_layer=0, srcfile=0, srcband=2, default_range=[0, 4000],
        color="Blue", dtype="UInt16", type="spectral", nbits=14, data_range=[0, 10000], nodata=None,
    )  # fmt: skip
    catalog_client.upload_ndarray(arr, product_id, "blue-bright", raster_meta=raster_meta)
    both, cctx = poll_scene(f"{product_id}:blue-bright")
    back = both.ndarray("bright-mask blue", cctx, mask_alpha=False, bands_axis=-1)
    np.testing.assert_array_equal(back.data, arr.data)
    catalog_client.remove_product(product_id, cascade=True)
    catalog_client.remove_product(src_pid, cascade=True)


def test_raster_ndarray_and_file_output(guide: dict[str, Any]) -> None:
    catalog_client, new_id = guide["catalog"], guide["new_id"]
    pid = catalog_client.add_product("raster" + new_id, title="t", description="d")["data"]["id"]
    catalog_client.add_band(
        pid, "b", srcband=1, dtype="Byte", nbits=8, data_range=[0, 255], type="spectral", nodata=0
    )
    west = np.full((48, 64), 10, "uint8")
    east = np.full((48, 64), 20, "uint8")
    write_geotiff(guide["tmp"] / "west.tif", west, crs=UTM43, transform=GT, nodata=0)
    write_geotiff(
        guide["tmp"] / "east.tif", east, crs=UTM43, transform=(GT[0] + 64 * 15, *GT[1:]), nodata=0
    )
    catalog_client.upload_image(str(guide["tmp"] / "west.tif"), pid)
    catalog_client.upload_image(str(guide["tmp"] / "east.tif"), pid)
    catalog_client.wait_for_image(pid, "west", timeout=60, poll=0.1)
    catalog_client.wait_for_image(pid, "east", timeout=60, poll=0.1)
    raster = rc.Raster()
    arr, meta = raster.ndarray([f"{pid}:west", f"{pid}:east"], bands=["b"], resolution=15, srs=UTM43,
                               bounds=(GT[0], GT[3] - 48 * 15, GT[0] + 128 * 15, GT[3]))  # fmt: skip
    assert arr.shape == (48, 128)
    assert (arr[:, :64] == 10).all() and (arr[:, 64:] == 20).all()  # no seam, no gap
    assert meta["geoTransform"] == list(GT)
    out = raster.raster([f"{pid}:west"], bands=["b"], output_format="GTiff")
    ((name, content),) = out["files"].items()
    assert name.endswith(".tif")
    path = guide["tmp"] / "out.tif"
    path.write_bytes(content)
    with rasterio.open(path) as src:
        assert src.transform.to_gdal() == GT and (src.read(1) == 10).all()
    catalog_client.remove_product(pid, cascade=True)

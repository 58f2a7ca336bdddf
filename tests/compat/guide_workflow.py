"""The Catalog guide's workflow, run through the published descarteslabs==0.17.3 client alone.

Run by tests/compat/test_dl_client.py with the old client's own Python (numpy<2, shapely<2):

    python guide_workflow.py SECTION CONFIG.json

CONFIG.json names the test rasters (written with rasterio by pytest) and the .npy files holding
their expected pixels, plus a second user's token (in group ``some:group``) for the sharing checks.
The DESCARTESLABS_* variables must be set before this script starts (the client reads them at
import). Each section creates the products it needs, so sections run independently; every step
prints one line, and any failure exits non-zero with a traceback.

The guide's own sections live here and in ndarray_sections.py; beyond_guide.py, mask_sections.py
and upload_sections.py cover the rest of the client that the guide's readers would use
(dl_common.py holds the shared helpers). Steps where the old client itself fails on a modern
stack say so in a comment and in the README.
"""

from __future__ import annotations

import json
import sys
import uuid

import descarteslabs as dl
import numpy as np
from beyond_guide import section_catalog_crud, section_metadata, section_raster, section_scenes
from descarteslabs.client.exceptions import BadRequestError, ConflictError, NotFoundError
from dl_common import (
    CFG,
    add_blue_band,
    blue_product,
    check_pixels,
    expected,
    namespace,
    new_product,
    poll_scene,
    step,
    wait,
)
from mask_sections import section_alpha, section_nodata
from ndarray_sections import section_ndarray_multi, section_ndarray_single
from upload_sections import section_upload_variants

# --------------------------------------------------------------------------------------------
# Sections of the guide


def section_create(cat: dl.Catalog) -> None:
    s = "create"
    new_id = str(uuid.uuid4())
    product = cat.add_product(
        "example-product" + new_id, title="Example Product", description="An example product"
    )
    product_id = product["data"]["id"]
    assert product_id == f"{namespace()}:example-product{new_id}", product_id
    attrs = product["data"]["attributes"]
    assert attrs["title"] == "Example Product" and attrs["owners"] == [f"user:{namespace()}"]
    step(s, "add_product returns the namespaced id sha1(sub):example-product<uuid>")

    band_id = add_blue_band(cat, product_id)
    assert band_id == product_id + ":blue", band_id
    band = cat.get_band(product_id, "blue")["data"]["attributes"]
    assert band["dtype"] == "UInt16" and band["data_range"] == [0, 10000]
    assert band["physical_range"] == [0, 1] and band["srcband"] == 1
    step(s, "add_band returns product_id:blue; get_band shows its attributes")

    assert cat.get_product(product_id)["data"]["id"] == product_id
    assert product_id in [p["id"] for p in cat.own_products()]
    assert band_id in [b["id"] for b in cat.own_bands()]
    step(s, "get_product, own_products and own_bands find them")

    try:
        cat.add_product("example-product" + new_id, title="again", description="again")
        raise AssertionError("a duplicate product id was accepted")
    except ConflictError:
        pass
    try:
        cat.add_band(
            product_id,
            "blue",
            srcband=1,
            dtype="UInt16",
            nbits=14,
            data_range=[0, 10000],
            type="spectral",
        )
        raise AssertionError("a duplicate band name was accepted")
    except ConflictError:
        pass
    try:
        cat.get_product(product_id + "-missing")
        raise AssertionError("an unknown product was found")
    except NotFoundError:
        pass
    step(s, "duplicates give ConflictError, unknown ids NotFoundError")


def section_upload(cat: dl.Catalog) -> None:
    s = "upload"
    product_id = new_product(cat, "example-product")
    add_blue_band(cat, product_id)
    cat.upload_image(CFG["files"]["blue"], product_id)
    step(s, "upload_image(blue.tif) returns")

    image, ctx = poll_scene(f"{product_id}:blue")
    assert image.properties.id == f"{product_id}:blue"
    assert image.properties.product == product_id
    assert list(image.properties.bands) == ["blue"]
    # The client takes cs_code when present (rastercat sends EPSG:32643), else proj4 (as in
    # the guide's printout); either names UTM zone 43N.
    assert image.properties.crs == "EPSG:32643", image.properties.crs
    assert "+proj=utm +zone=43" in image.properties.proj4, image.properties.proj4
    assert image.properties.date is not None, "acquired is not in a format the client parses"
    text = repr(image)
    assert "Product:" in text and "blue: UInt16, [0, 10000] -> [0, 1]" in text, text
    assert ctx.resolution == 15.0 and ctx.bounds == (391395.0, 5595810.0, 392355.0, 5596530.0)
    step(s, "Scene.from_id polls until processed; the scene and its default ctx match the file")

    arr = shown = image.ndarray("blue", ctx, mask_alpha=False)
    want = expected("blue")[np.newaxis]
    check_pixels(arr, want, "blue ndarray")
    assert isinstance(arr, np.ma.MaskedArray) and not arr.mask.any()
    step(s, "image.ndarray('blue', ctx, mask_alpha=False) returns the file's pixels exactly")

    arr, info = image.ndarray("blue", ctx, mask_alpha=False, raster_info=True, bands_axis=-1)
    assert arr.shape == (48, 64, 1)
    assert info["geoTransform"] == [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0], info
    assert (
        "32643" in info["coordinateSystem"]["wkt"]
        or "UTM zone 43N" in info["coordinateSystem"]["wkt"]
    )
    step(s, "raster_info carries geoTransform and coordinateSystem.wkt; bands_axis=-1 works")

    half = image.ndarray("blue", ctx.assign(resolution=30), mask_alpha=False)
    assert half.shape == (1, 24, 32), half.shape
    step(s, "resolution=30 on the 64x48 15 m image gives (1, 24, 32)")

    try:
        image.ndarray("blue", ctx)
        raise AssertionError("mask_alpha=True without an alpha band did not fail client-side")
    except ValueError:
        pass
    step(s, "mask_alpha=True without an alpha band fails client-side, as the guide says")

    import matplotlib

    matplotlib.use("Agg")
    # A limit of the client itself (numpy 1.26, matplotlib 3.8): display() of a one-band masked
    # array with nothing masked builds a 2-channel image that imshow rejects. Plain arrays and
    # arrays with masked pixels display fine. No server response can change this.
    try:
        dl.scenes.display(shown)
        step(s, "dl.scenes.display(arr) (client-side only)")
    except TypeError as exc:
        assert "Invalid shape" in str(exc) and not shown.mask.any(), exc
        dl.scenes.display(shown.filled(0))
        step(s, "dl.scenes.display(arr.filled(0)) (client-side only; see the README)")

    results = list(cat.iter_upload_results(product_id))
    assert len(results) == 1, results
    upload_id = results[0]["id"]
    assert results[0]["attributes"]["status"] == "SUCCESS", results[0]
    one = cat.upload_result(product_id, "blue.tif")  # the upload's id is the file name
    assert one["data"]["attributes"]["status"] == "SUCCESS", one
    assert one["data"]["id"] == upload_id, (one, upload_id)
    step(s, f"iter_upload_results and upload_result({upload_id!r}) report SUCCESS")

    cat.upload_image(CFG["files"]["not-a-raster"], product_id)

    def failed():
        res = [
            r
            for r in cat.iter_upload_results(product_id)
            if r["attributes"]["status"] not in ("SUCCESS", "PENDING", "RUNNING", "UPLOADING")
        ]
        return res

    bad = wait(failed, "the broken upload to fail")
    assert bad[0]["attributes"]["status"] == "FAILURE", bad
    try:
        dl.scenes.Scene.from_id(product_id + ":not-a-raster")
        raise AssertionError("a failed upload produced an image")
    except NotFoundError:
        pass
    step(s, "a file that is not a raster ends as a FAILURE upload result and no image")

    try:
        cat.upload_image(CFG["files"]["blue"], product_id + "-missing")
        raise AssertionError("an upload into an unknown product was accepted")
    except (NotFoundError, BadRequestError):
        pass
    step(s, "upload_image into an unknown product fails")


def section_bands(cat: dl.Catalog) -> None:
    s = "bands"
    product_id = blue_product(cat, "colormaps")
    band_id = product_id + ":blue"
    r = cat.change_band(product_id, band_id, colormap_name="magma")
    assert r["data"]["attributes"]["colormap_name"] == "magma", r
    step(s, "change_band(product_id, band_id, colormap_name='magma')")

    rng = np.random.RandomState(0)
    bad_colormap = [[str(rng.randint(0, 256)) for _ in range(4)] for _ in range(256)]
    r = cat.change_band(product_id, band_id, colormap=bad_colormap)
    assert r["data"]["attributes"]["colormap"] == bad_colormap
    got = cat.get_band(product_id, "blue")["data"]["attributes"]
    assert got["colormap"] == bad_colormap
    step(s, "change_band(..., colormap=<256 string 4-tuples>) is stored")

    image, ctx = dl.scenes.Scene.from_id(f"{product_id}:blue")
    check_pixels(
        image.ndarray("blue", ctx, mask_alpha=False),
        expected("blue")[np.newaxis],
        "pixels after colormap change",
    )
    step(s, "a colormap does not change the pixels ndarray returns")

    try:
        cat.change_band(product_id, band_id, dtype="NotAType")
        raise AssertionError("an invalid dtype was accepted")
    except BadRequestError:
        pass
    step(s, "an invalid band attribute gives BadRequestError")


def section_sharing(cat: dl.Catalog) -> None:
    s = "sharing"
    product_id = blue_product(cat, "shared")
    image_id = product_id + ":blue"
    bob = dl.Auth(jwt_token=CFG["tokens"]["bob"])
    bob_meta = dl.Metadata(auth=bob)
    bob_raster = dl.Raster(auth=bob)
    try:
        bob_meta.get(image_id)
        raise AssertionError("another user read an unshared image")
    except NotFoundError:
        pass
    step(s, "before sharing, a user in some:group cannot see the image")

    # Without set_global_permissions only the product's own ACL changes (the guide says so).
    product_only = blue_product(cat, "product-only")
    r = cat.change_product(product_only, read=["some:group"])
    assert r["data"]["attributes"]["read"] == ["group:some:group"], r
    assert bob_meta.get_product(product_only)["id"] == product_only
    try:
        bob_meta.get(product_only + ":blue")
        raise AssertionError("set_global_permissions=False shared the images too")
    except NotFoundError:
        pass
    step(s, "change_product(read=...) alone shares the product's metadata, not its images")

    r = cat.change_product(product_id, read=["some:group"], set_global_permissions=True)
    assert r["data"]["attributes"]["read"] == ["group:some:group"], r
    step(s, "change_product(read=['some:group'], set_global_permissions=True)")

    def visible():
        try:
            return bob_meta.get(image_id)
        except NotFoundError:
            return None

    got = wait(visible, "the image to be shared with some:group")
    assert got["read"] == ["group:some:group"], got
    band = wait(
        lambda: cat.get_band(product_id, "blue")["data"]["attributes"]["read"], "the band ACL"
    )
    assert band == ["group:some:group"], band
    arr, _meta = bob_raster.ndarray(image_id, bands=["blue"], order="gdal")
    check_pixels(arr, expected("blue"), "shared pixels read by bob")
    step(s, "the group member then reads the image metadata and its pixels")

    bob_cat = dl.Catalog(auth=bob)
    try:
        bob_cat.change_image(product_id, image_id, cloud_fraction=0.5)
        raise AssertionError("a reader changed the image")
    except NotFoundError:
        raise AssertionError("a reader got 404 for an image they can read") from None
    except Exception as exc:  # 403 is a ServerError in this client
        assert type(exc).__name__ == "ServerError", repr(exc)
    step(s, "the group member cannot change it (403 -> ServerError)")


def section_custom_metadata(cat: dl.Catalog) -> None:
    s = "custom-metadata"
    product_id = blue_product(cat, "custom-metadata")
    image_id = product_id + ":blue"
    r = cat.change_image(
        product_id,
        image_id,
        acquired="2018-11-27T17:33:55.960134+00:00",
        cloud_fraction=0.1,
        extra_properties={"source": "guide"},
    )
    attrs = r["data"]["attributes"]
    assert r["data"]["id"] == image_id and attrs["key"] == "blue"
    assert attrs["geotrans"] == [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0]
    assert attrs["raster_size"] == [64, 48] and attrs["geometry"]["type"] == "Polygon"
    assert attrs["owners"] == [f"user:{namespace()}"]
    step(s, "change_image(product_id, image_id, acquired=...) returns the image document")

    meta = dl.Metadata().get(image_id)
    assert meta["acquired"].startswith("2018-11-27T17:33:55"), meta["acquired"]
    assert meta["cloud_fraction"] == 0.1 and meta["extra_properties"] == {"source": "guide"}
    image, _ctx = dl.scenes.Scene.from_id(image_id)
    assert image.properties.date.year == 2018 and image.properties.date.month == 11
    step(s, "Metadata.get and Scene.from_id see the new acquired date")

    cat.upload_image(CFG["files"]["blue-east"], product_id, acquired="2017-01-02T03:04:05Z")
    east, _ = poll_scene(product_id + ":blue-east")
    assert east.properties.date.year == 2017, east.properties.date
    step(s, "upload_image(..., acquired=...) sets acquired at upload time")


def section_cleanup(cat: dl.Catalog) -> None:
    s = "cleanup"
    product_id = blue_product(cat, "cleanup")
    # rastercat answers 409 here (the product is still in use; the project's deletion issue),
    # later client docs said 400: both are exceptions the old client raises.
    try:
        cat.remove_product(product_id, cascade=False)
        raise AssertionError("a product with bands and images was removed without cascade")
    except (ConflictError, BadRequestError):
        pass
    cat.get_product(product_id)
    step(s, "remove_product(cascade=False) refuses a product with bands and images")

    task = cat.remove_product(product_id, cascade=True)
    assert isinstance(task, dict) and isinstance(task.get("deletion_task"), str), task
    step(s, f"remove_product(cascade=True) -> {{'deletion_task': {task['deletion_task']!r}}}")

    status = wait(
        lambda: (lambda st: st if st.get("completed") else None)(
            cat.product_deletion_status(task["deletion_task"])
        ),
        "the deletion task to complete",
    )
    assert status["response"]["deleted"] == status["response"]["total"] >= 2, status
    for call in (
        lambda: cat.get_product(product_id),
        lambda: dl.Metadata().get(product_id + ":blue"),
        lambda: dl.scenes.Scene.from_id(product_id + ":blue"),
    ):
        try:
            call()
            raise AssertionError("a deleted object is still found")
        except NotFoundError:
            pass
    step(s, "product_deletion_status completes; product and image answer 404")

    empty = new_product(cat, "empty")
    assert cat.remove_product(empty) is None
    step(s, "remove_product of a product without children returns None")


def section_multi_image(cat: dl.Catalog) -> None:
    s = "multi-image"
    product_id = new_product(cat, "masks", title="Cloud and Brightness masks")
    for name, srcfile in (("cloud-mask", 0), ("bright-mask", 1)):
        band_id = cat.add_band(
            product_id=product_id,
            name=name,
            jpx_layer=0,
            srcfile=srcfile,
            srcband=1,
            nbits=1,
            dtype="UInt16",
            nodata=0,
            data_range=[0, 1],
            type="mask",
        )["data"]["id"]
        assert band_id == f"{product_id}:{name}"
    step(s, "add_band cloud-mask (srcfile 0) and bright-mask (srcfile 1)")

    image_id = "_".join(["test_multi_image_scene", str(uuid.uuid4())[:8]])
    cat.upload_image(
        [CFG["files"]["cloud-mask"], CFG["files"]["bright-mask"]],
        product_id,
        multi=True,
        image_id=image_id,
    )
    step(s, "upload_image([cloud-mask.tif, bright-mask.tif], multi=True, image_id=...)")

    scene, ctx = poll_scene(f"{product_id}:{image_id}")
    arr = scene.ndarray("cloud-mask bright-mask", ctx, mask_alpha=False)
    want = np.stack([expected("cloud-mask"), expected("bright-mask")])
    check_pixels(arr, want, "multi-image scene")
    assert np.array_equal(arr.mask, want == 0), "nodata=0 must mask the zeros client-side"
    step(s, "the scene has both files' pixels as its two bands, masked where 0")

    results = list(cat.iter_upload_results(product_id))
    assert len(results) == 2 and all(r["attributes"]["status"] == "SUCCESS" for r in results)
    step(s, "two upload results, both SUCCESS")

    task = cat.remove_product(product_id, cascade=True)
    assert "deletion_task" in task
    step(s, "remove_product(cascade=True)")


SECTIONS = {
    "create": section_create,
    "upload": section_upload,
    "bands": section_bands,
    "sharing": section_sharing,
    "custom-metadata": section_custom_metadata,
    "cleanup": section_cleanup,
    "catalog-crud": section_catalog_crud,
    "multi-image": section_multi_image,
    "ndarray-single": section_ndarray_single,
    "ndarray-multi": section_ndarray_multi,
    "metadata": section_metadata,
    "raster": section_raster,
    "scenes": section_scenes,
    "alpha": section_alpha,
    "nodata": section_nodata,
    "upload-variants": section_upload_variants,
}


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in SECTIONS:
        print(f"usage: {argv[0]} {{{','.join(SECTIONS)}}} CONFIG.json", file=sys.stderr)
        return 2
    with open(argv[2]) as f:
        CFG.update(json.load(f))
    SECTIONS[argv[1]](dl.Catalog())
    print(f"section {argv[1]} passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

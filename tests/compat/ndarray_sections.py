"""The guide's "Uploading an ndarray" sections through the descarteslabs 0.17.3 client (sections
of guide_workflow.py). A product of our own, with bands ``blue`` and ``bright-mask`` at 15 m, stands
in for the guide's Landsat scene."""

from __future__ import annotations

import descarteslabs as dl
import numpy as np
from dl_common import (
    add_bright_band,
    check_pixels,
    expected,
    new_product,
    poll_scene,
    source_scene,
    step,
)


def section_ndarray_single(cat: dl.Catalog) -> None:
    s = "ndarray-single"
    scene, geoctx = source_scene(cat)
    product_id = new_product(cat, "bright-ndarray", title="bright mask ndarray upload")
    arr, raster_meta = scene.ndarray(
        "bright-mask", geoctx.assign(resolution=150), raster_info=True, mask_alpha=False
    )
    check_pixels(arr, expected("source-bright-150")[np.newaxis], "bright-mask at 150 m")
    gt = raster_meta["geoTransform"]
    assert gt == [391395.0, 150.0, 0.0, 5596530.0, 0.0, -150.0], gt
    step(s, "scene.ndarray('bright-mask', geoctx.assign(resolution=150), raster_info=True)")

    add_bright_band(cat, product_id)
    cat.upload_ndarray(
        arr[0],
        product_id,
        "bright",
        raster_meta=raster_meta,
        overviews=[2, 4],
        overview_resampler="average",
    )
    step(s, "upload_ndarray(arr[0], ..., raster_meta=..., overviews=[2, 4], 'average')")

    image, ctx = poll_scene(product_id + ":bright")
    assert ctx.resolution == 150.0
    assert dl.Metadata().get(product_id + ":bright")["geotrans"] == gt
    back = image.ndarray("bright-mask", ctx, mask_alpha=False)
    check_pixels(back, arr.data, "re-uploaded bright ndarray")
    coarse = image.ndarray("bright-mask", ctx.assign(resolution=600), mask_alpha=False)
    assert coarse.shape == (1, 3, 4), coarse.shape
    step(s, "the uploaded ndarray reads back with the same pixels and georeferencing")

    results = list(cat.iter_upload_results(product_id))
    assert [r["attributes"]["status"] for r in results] == ["SUCCESS"], results
    cat.remove_product(product_id, cascade=True)
    step(s, "upload result SUCCESS; remove_product(cascade=True)")


def section_ndarray_multi(cat: dl.Catalog) -> None:
    s = "ndarray-multi"
    scene, geoctx = source_scene(cat)
    product_id = new_product(cat, "blue-bright-ndarray", title="blue and bright mask ndarray")
    arr, raster_meta = scene.ndarray(
        "bright-mask blue",
        geoctx.assign(resolution=150),
        raster_info=True,
        bands_axis=-1,
        mask_alpha=False,
    )
    want = np.stack([expected("source-bright-150"), expected("source-blue-150")], axis=-1)
    check_pixels(arr, want, "bright-mask+blue at 150 m, bands last")
    step(s, "scene.ndarray('bright-mask blue', ..., bands_axis=-1) is (y, x, band)")

    add_bright_band(cat, product_id)
    cat.add_band(
        product_id=product_id,
        name="blue",
        jpx_layer=0,
        srcfile=0,
        srcband=2,
        default_range=[0, 4000],
        color="Blue",
        dtype="UInt16",
        type="spectral",
        nbits=14,
        data_range=[0, 10000],
        nodata=None,
    )
    cat.upload_ndarray(arr, product_id, "blue-bright", raster_meta=raster_meta)
    step(s, "upload_ndarray(arr (y, x, 2), ..., 'blue-bright', raster_meta=...)")

    image, ctx = poll_scene(product_id + ":blue-bright")
    back = image.ndarray("bright-mask blue", ctx, mask_alpha=False, bands_axis=-1)
    check_pixels(back, arr.data, "re-uploaded 2-band ndarray")
    blue = image.ndarray("blue", ctx, mask_alpha=False)
    check_pixels(blue, expected("source-blue-150")[np.newaxis], "srcband 2 is blue")
    step(s, "band k of the upload is [..., k-1]: both bands read back exactly")
    cat.remove_product(product_id, cascade=True)
    step(s, "remove_product(cascade=True)")

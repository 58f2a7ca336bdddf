"""Upload variants the guide mentions but does not show, through the descarteslabs 0.17.3
client (a section of guide_workflow.py): JPEG2000 files, an explicit image id, ndarrays with a
PROJ.4 string and other dtypes."""

from __future__ import annotations

import descarteslabs as dl
import numpy as np
from dl_common import CFG, add_blue_band, check_pixels, expected, new_product, poll_scene, step

GUIDE_GEOTRANS = [391395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0]
PROJ4 = "+proj=utm +zone=43 +datum=WGS84 +units=m +no_defs"


def section_upload_variants(cat: dl.Catalog) -> None:
    s = "upload-variants"
    product_id = new_product(cat, "variants")
    add_blue_band(cat, product_id)

    cat.upload_image(CFG["files"]["blue-jp2"], product_id)
    image, ctx = poll_scene(product_id + ":blue-jp2")
    check_pixels(image.ndarray("blue", ctx, mask_alpha=False), expected("blue")[np.newaxis], "jp2")
    step(s, "upload_image of a lossless JPEG2000 file; pixels read back exactly")

    cat.upload_image(CFG["files"]["blue"], product_id, metadata={"image_id": "renamed"})
    image, ctx = poll_scene(product_id + ":renamed")
    assert dl.Metadata().get(product_id + ":renamed")["key"] == "renamed"
    step(s, "upload_image(..., metadata={'image_id': 'renamed'}) names the image")

    arr = expected("blue")
    cat.upload_ndarray(arr, product_id, "from-proj4", proj4=PROJ4, geotrans=GUIDE_GEOTRANS)
    image, ctx = poll_scene(product_id + ":from-proj4")
    check_pixels(image.ndarray("blue", ctx, mask_alpha=False), arr[np.newaxis], "proj4 ndarray")
    assert dl.Metadata().get(product_id + ":from-proj4")["geotrans"] == GUIDE_GEOTRANS
    step(s, "upload_ndarray with proj4= and geotrans= instead of raster_meta")

    other = new_product(cat, "float-ndarray")
    cat.add_band(
        product_id=other,
        name="ndvi",
        srcband=1,
        nbits=32,
        dtype="Float32",
        data_range=[-1, 1],
        type="spectral",
    )
    ndvi = np.linspace(-1, 1, 48 * 64, dtype=np.float32).reshape(48, 64)
    cat.upload_ndarray(ndvi, other, "ndvi", proj4=PROJ4, geotrans=GUIDE_GEOTRANS)
    image, ctx = poll_scene(other + ":ndvi")
    check_pixels(image.ndarray("ndvi", ctx, mask_alpha=False), ndvi[np.newaxis], "float32")
    step(s, "a Float32 ndarray round-trips bit for bit")

    cat.remove_product(product_id, cascade=True)
    cat.remove_product(other, cascade=True)

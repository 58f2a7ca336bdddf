"""Alpha bands, nodata and DLTiles through the descarteslabs 0.17.3 client (sections of
guide_workflow.py): the masking the guide's note on alpha bands and nodata values is about."""

from __future__ import annotations

import descarteslabs as dl
import numpy as np
from dl_common import CFG, check_pixels, expected, new_product, poll_scene, step

GRID = (391395.0, 5595810.0, 392355.0, 5596530.0)  # the 64 x 48, 15 m images, EPSG:32643


def grid_ctx() -> dl.scenes.AOI:
    return dl.scenes.AOI(
        bounds=GRID, bounds_crs="EPSG:32643", crs="EPSG:32643", resolution=15, align_pixels=False
    )


def section_alpha(cat: dl.Catalog) -> None:
    s = "alpha"
    product_id = new_product(cat, "alpha")
    for name, srcband in (("red", 1), ("alpha", 2)):
        cat.add_band(
            product_id=product_id,
            name=name,
            srcband=srcband,
            nbits=16 if name == "red" else 1,
            dtype="UInt16",
            data_range=[0, 10000] if name == "red" else [0, 1],
            type="spectral" if name == "red" else "mask",
        )
    for key in ("alpha-a", "alpha-b"):
        cat.upload_image(CFG["files"][key], product_id)
    a, ctx = poll_scene(product_id + ":alpha-a")
    b, _ = poll_scene(product_id + ":alpha-b")
    step(s, "a product with an 'alpha' band; two images on one grid")

    red_a, alpha_a = expected("alpha-a")
    arr = a.ndarray("red", ctx)  # mask_alpha=True, the default, now works
    # protocol §4.1: pixels masked by the alpha band are 0 in all the other bands
    check_pixels(arr, np.where(alpha_a == 1, red_a, 0)[np.newaxis], "red of alpha-a")
    assert np.array_equal(arr.mask[0], alpha_a == 0), "alpha == 0 must be masked"
    both = a.ndarray("red alpha", ctx, mask_alpha=False)
    check_pixels(both, np.stack([np.where(alpha_a == 1, red_a, 0), alpha_a]), "red, alpha")
    step(s, "scene.ndarray('red', ctx) masks where alpha == 0 (client-side, from the alpha band)")

    red_b, alpha_b = expected("alpha-b")
    mosaic = dl.scenes.SceneCollection([a, b]).mosaic("red", grid_ctx())
    want = np.where(alpha_b == 1, red_b, np.where(alpha_a == 1, red_a, 0))
    check_pixels(mosaic, want[np.newaxis], "alpha mosaic, last image on top")
    assert np.array_equal(mosaic.mask[0], (alpha_a == 0) & (alpha_b == 0)), "mosaic mask"
    step(s, "SceneCollection.mosaic: the last image wins where its alpha is 1")
    cat.remove_product(product_id, cascade=True)


def section_nodata(cat: dl.Catalog) -> None:
    s = "nodata"
    product_id = new_product(cat, "nodata")
    cat.add_band(
        product_id=product_id,
        name="blue",
        srcband=1,
        nbits=14,
        dtype="UInt16",
        nodata=0,
        data_range=[0, 10000],
        type="spectral",
    )
    for key in ("nodata-a", "nodata-b"):
        cat.upload_image(CFG["files"][key], product_id)
    a, ctx = poll_scene(product_id + ":nodata-a")
    b, _ = poll_scene(product_id + ":nodata-b")
    arr = b.ndarray("blue", ctx, mask_alpha=False)
    want_b = expected("nodata-b")
    check_pixels(arr, want_b[np.newaxis], "nodata-b")
    assert np.array_equal(arr.mask[0], want_b == 0), "nodata=0 must be masked"
    step(s, "scene.ndarray masks the band's nodata value")

    mosaic = dl.scenes.SceneCollection([a, b]).mosaic("blue", grid_ctx(), mask_alpha=False)
    want = np.where(want_b != 0, want_b, expected("nodata-a"))
    check_pixels(mosaic, want[np.newaxis], "nodata mosaic")
    assert np.array_equal(mosaic.mask[0], want == 0), "mosaic mask"
    step(s, "SceneCollection.mosaic: nodata in the top image shows the image below")

    tile = dl.scenes.DLTile.from_latlon(50.507, 73.475, resolution=15.0, tilesize=32, pad=2)
    assert tile.tilesize == 32 and tile.pad == 2 and tile.crs == "EPSG:32643", tile
    arr = a.ndarray("blue", tile, mask_alpha=False)
    assert arr.shape == (1, 36, 36) and arr.dtype == np.uint16, arr.shape
    assert (arr.data != 0).any(), "the tile covers the image: some pixels must be valid"
    step(s, "DLTile.from_latlon and scene.ndarray on a DLTile context")
    cat.remove_product(product_id, cascade=True)

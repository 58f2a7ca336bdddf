"""Helpers shared by the compatibility workflows (run with the old client's Python)."""

from __future__ import annotations

import hashlib
import time
import uuid

import descarteslabs as dl
import numpy as np
from descarteslabs.client.exceptions import NotFoundError

CFG: dict = {}
POLL = 0.1  # seconds between polls of asynchronous work; every poll has a deadline


def step(section: str, what: str) -> None:
    print(f"ok {section}: {what}", flush=True)


def wait(predicate, what: str, timeout: float = 90.0):
    """Poll ``predicate`` until it returns something truthy; AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(POLL)


def expected(name: str) -> np.ndarray:
    return np.load(CFG["expected"][name])


def poll_scene(image_id: str, timeout: float = 90.0):
    """The guide's loop: ``Scene.from_id`` raises until the image is processed."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return dl.scenes.Scene.from_id(image_id)
        except NotFoundError as exc:  # the guide catches everything; only 404 is expected
            if time.monotonic() > deadline:
                raise AssertionError(f"image {image_id} was not processed: {exc!r}") from exc
            time.sleep(POLL)


def namespace() -> str:
    return hashlib.sha1(dl.Auth().payload["sub"].encode("utf-8")).hexdigest()


def new_product(cat: dl.Catalog, prefix: str, title: str = "Example Product") -> str:
    product_id = cat.add_product(
        prefix + str(uuid.uuid4()), title=title, description="An example product"
    )["data"]["id"]
    assert product_id.startswith(namespace() + ":" + prefix), product_id
    return product_id


def add_blue_band(cat: dl.Catalog, product_id: str) -> str:
    return cat.add_band(
        product_id=product_id,
        name="blue",
        srcfile=0,
        srcband=1,
        nbits=14,
        dtype="UInt16",
        data_range=[0, 10000],
        physical_range=[0, 1],
        type="spectral",
    )["data"]["id"]


def blue_product(cat: dl.Catalog, prefix: str, files=("blue",)) -> str:
    """A product with the guide's blue band and the given GeoTIFFs uploaded and processed."""
    product_id = new_product(cat, prefix)
    add_blue_band(cat, product_id)
    for name in files:
        cat.upload_image(CFG["files"][name], product_id)
    for name in files:
        poll_scene(f"{product_id}:{name}")
    return product_id


def check_pixels(arr, want: np.ndarray, what: str) -> None:
    assert arr.shape == want.shape, (what, arr.shape, want.shape)
    assert arr.dtype == want.dtype, (what, arr.dtype, want.dtype)
    got = np.asarray(arr.data if isinstance(arr, np.ma.MaskedArray) else arr)
    assert np.array_equal(got, want), f"{what}: pixel values differ"


def read_tiff(data: bytes) -> dict:
    """Pixels and GeoTIFF georeferencing tags of a one-band GeoTIFF, with Pillow (no GDAL here)."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(data))
    tags = img.tag_v2
    keys = tags.get(34735, ())  # GeoKeyDirectory: 4 header shorts, then (id, loc, count, value)
    geokeys = {keys[i]: keys[i + 3] for i in range(4, len(keys), 4)}
    return {
        "pixels": np.array(img),
        "scale": tuple(tags.get(33550, ())),  # ModelPixelScale
        "tiepoint": tuple(tags.get(33922, ())),  # ModelTiepoint
        "epsg": geokeys.get(3072),  # ProjectedCSTypeGeoKey
    }


def source_scene(cat: dl.Catalog):
    """Stands in for the guide's Landsat scene: bands ``blue`` and ``bright-mask``, 15 m."""
    product_id = new_product(cat, "source")
    add_blue_band(cat, product_id)
    cat.add_band(
        product_id=product_id,
        name="bright-mask",
        srcband=2,
        nbits=1,
        dtype="UInt16",
        data_range=[0, 1],
        type="mask",
    )
    cat.upload_image(CFG["files"]["source"], product_id)
    return poll_scene(product_id + ":source")


def add_bright_band(cat: dl.Catalog, product_id: str, srcband: int = 1) -> str:
    return cat.add_band(
        product_id=product_id,
        name="bright-mask",
        jpx_layer=0,
        srcfile=0,
        srcband=srcband,
        default_range=[0, 1],
        nbits=1,
        color="Gray",
        dtype="UInt16",
        data_range=[0, 1],
        nodata=None,
        type="mask",
    )["data"]["id"]

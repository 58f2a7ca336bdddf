"""Band permissions in reads that mix images of several products.

A raster read takes its band definitions from the first image's product. The attack: a reader of
another product puts an image of their own product first, with a band named like a band of the
other product they may not see, and asks for that band. Each image must give pixels only for the
bands its own product lets the caller read.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from _perm_world import CAT, World, add_band, create_product, upload_tif
from rasterio.io import MemoryFile

from helpers import write_geotiff
from rastercat.raster.encode import parse_raster_files

SECRET_VALUE = 7777
PUBLIC_VALUE = 1111
OWN_VALUE = 5


def _npz(content: bytes) -> np.ndarray:
    with np.load(io.BytesIO(content)) as z:
        json.loads(bytes(z["metadata"]).decode())
        return np.asarray(z["data"])


def _gtiff(content: bytes) -> np.ndarray:
    _, files = parse_raster_files(content)
    (payload,) = files.values()
    with MemoryFile(payload) as mem, mem.open() as ds:
        return np.asarray(ds.read())


@pytest.fixture(scope="module")
def products(world: World, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The owner's product (readers see band ``pub`` but not ``secret``) and the attacker's own
    product with a band named ``secret``, each with one image over the same ground."""
    tmp = tmp_path_factory.mktemp("mixed")
    owner, attacker = world.clients["owner"], world.clients["reader_user"]
    victim = create_product(owner, f"mixed-victim-{world.suffix}", **world.acl())
    add_band(owner, victim, name="pub", srcband=1)
    add_band(owner, victim, name="secret", srcband=2, read=[])
    data = np.stack([np.full((32, 32), PUBLIC_VALUE, "uint16"),
                     np.full((32, 32), SECRET_VALUE, "uint16")])  # fmt: skip
    upload_tif(owner, victim, write_geotiff(tmp / "theirs.tif", data))
    mine = create_product(attacker, f"mixed-mine-{world.suffix}")
    add_band(attacker, mine, name="secret", srcband=1)
    # Smaller than the victim's image, so that the victim's pixels show around it.
    own = write_geotiff(tmp / "mine.tif", np.full((8, 8), OWN_VALUE, "uint16"))
    upload_tif(attacker, mine, own)
    return victim, mine


def test_the_hidden_band_is_hidden_and_the_public_one_is_readable(
    world: World, products: tuple[str, str]
) -> None:
    victim, _ = products
    attacker = world.clients["reader_user"]
    assert attacker.get(f"{CAT}/products/{victim}/bands/secret").status_code == 404
    r = attacker.post("/raster/v1/npz", json={"ids": [f"{victim}:theirs"], "bands": ["pub"]})
    assert r.status_code == 200, r.text
    assert (_npz(r.content) == PUBLIC_VALUE).all()
    r = attacker.post("/raster/v1/npz", json={"ids": [f"{victim}:theirs"], "bands": ["secret"]})
    assert 400 <= r.status_code < 500


@pytest.mark.parametrize("route", ["/raster/v1/npz", "/raster/v1/raster"])
def test_an_own_image_first_does_not_unlock_another_products_hidden_band(
    world: World, products: tuple[str, str], route: str
) -> None:
    victim, mine = products
    attacker = world.clients["reader_user"]
    for ids in ([f"{mine}:mine", f"{victim}:theirs"], [f"{victim}:theirs", f"{mine}:mine"]):
        body = {"ids": ids, "bands": ["secret"], "of": "GTiff" if "raster" in route else "npz"}
        r = attacker.post(route, json=body)
        assert r.status_code == 200 or 400 <= r.status_code < 500, r.text[:300]
        if r.status_code != 200:
            continue
        data = _npz(r.content) if route.endswith("npz") else _gtiff(r.content)
        assert SECRET_VALUE not in data, ids
        assert OWN_VALUE in data, ids


def test_the_owner_still_reads_the_hidden_band(world: World, products: tuple[str, str]) -> None:
    victim, _ = products
    r = world.clients["owner"].post(
        "/raster/v1/npz", json={"ids": [f"{victim}:theirs"], "bands": ["secret"]}
    )
    assert r.status_code == 200, r.text
    assert (_npz(r.content) == SECRET_VALUE).all()

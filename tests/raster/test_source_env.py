"""A source carries the GDAL configuration it opens in, and the reader enters it: no caller has to."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import rasterio
from rasterio.env import getenv

from rastercat.raster import Grid, SourceImage, read
from rastercat.store.objects import LocalObjectStore

from .conftest import UTM43, band, random_array

Cog = Callable[..., SourceImage]


class Opener:
    """A store-like opener whose environment records what GDAL saw while it was entered."""

    def __init__(self) -> None:
        self.entered = 0

    @contextlib.contextmanager
    def gdal_env(self) -> Iterator[None]:
        self.entered += 1
        with rasterio.Env(RASTERCAT_TEST_OPTION="store"):
            yield


def test_read_enters_each_sources_environment_once(cog: Cog) -> None:
    opener = Opener()
    arr = random_array("uint16", (1, 48, 64))
    a = dataclasses.replace(cog(arr), gdal_env=opener.gdal_env)
    b = dataclasses.replace(cog(arr), gdal_env=opener.gdal_env)
    res = read([a, b], [band("b1")], Grid(UTM43, a.transform, *a.raster_size))
    np.testing.assert_array_equal(res.data, arr)
    assert opener.entered == 1  # the same opener's environment, once for the whole read


def test_the_read_defaults_apply_over_the_sources_environment(cog: Cog, monkeypatch: Any) -> None:
    seen: list[dict[str, Any]] = []
    engine = importlib.import_module("rastercat.raster.read")  # the package exports read()
    real_open = engine._open

    def spying_open(source: SourceImage, **kwargs: Any) -> Any:
        seen.append(getenv())
        return real_open(source, **kwargs)

    monkeypatch.setattr(engine, "_open", spying_open)
    src = dataclasses.replace(cog(random_array("uint16", (1, 48, 64))), gdal_env=Opener().gdal_env)
    read([src], [band("b1")], Grid(UTM43, src.transform, *src.raster_size))
    assert seen and seen[0]["RASTERCAT_TEST_OPTION"] == "store"
    assert seen[0]["GDAL_VRT_ENABLE_RAWRASTERBAND"] == "NO"


def test_sources_of_one_store_compare_equal_and_share_its_environment(tmp_path: Any) -> None:
    store = LocalObjectStore(tmp_path)
    kw: dict[str, Any] = dict(path="x.tif", band_names=("b1",), crs_wkt="", geotrans=(0, 1, 0, 0, 0, -1),
                              raster_size=(1, 1))  # fmt: skip
    with_env = SourceImage(id="a", gdal_env=store.gdal_env, **kw)
    assert with_env == SourceImage(id="a", **kw)  # the opener is no part of the source's identity
    assert {store.gdal_env, with_env.gdal_env} == {store.gdal_env}

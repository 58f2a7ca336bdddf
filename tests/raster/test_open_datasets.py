"""Reads reuse open COGs per thread: a file replaced or removed on disk is never served from an old
handle, and threads reading the same files at once each get exact pixels."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from rastercat.errors import StoreError
from rastercat.raster import Grid, SourceImage, read

from .conftest import UTM43, band, random_array, write_cog

Cog = Callable[..., SourceImage]


def native_grid(src: SourceImage) -> Grid:
    return Grid(UTM43, src.transform, *src.raster_size)


def test_a_file_replaced_at_the_same_path_is_read_anew(cog: Cog, tmp_path: Path) -> None:
    first = random_array("uint16", (1, 48, 64), seed=1)
    src = cog(first, name="same")
    grid = native_grid(src)
    np.testing.assert_array_equal(read([src], [band("b1")], grid).data, first)
    second = random_array("uint16", (1, 48, 64), seed=2)
    new = write_cog(tmp_path / "new.tif", second)
    os.replace(new, src.path)  # same path, same size: only the file's identity differs
    np.testing.assert_array_equal(read([src], [band("b1")], grid).data, second)


def test_a_removed_file_is_an_error_not_old_pixels(cog: Cog) -> None:
    src = cog(random_array("uint16", (1, 48, 64)), name="gone")
    grid = native_grid(src)
    read([src], [band("b1")], grid)
    Path(src.path).unlink()
    with pytest.raises(StoreError):
        read([src], [band("b1")], grid)


def test_threads_reading_the_same_files_get_exact_pixels(cog: Cog) -> None:
    arrays = [random_array("uint16", (2, 96, 80), seed=s) for s in range(12)]
    sources = [cog(a, ("b1", "b2"), name=f"t{i}") for i, a in enumerate(arrays)]

    def one(i: int) -> bool:
        k = i % len(sources)  # more files than a thread keeps open: evictions happen too
        res = read([sources[k]], [band("b2"), band("b1")], native_grid(sources[k]))
        return bool(np.array_equal(res.data, arrays[k][::-1]))

    with ThreadPoolExecutor(6) as pool:
        assert all(pool.map(one, range(240)))

"""GDAL's block cache: rastercat's size by default, the operator's where the environment sets one."""

from __future__ import annotations

import os

import pytest
import rasterio.env

from rastercat.raster.env import operator_cachemax, read_env


def cachemax() -> str:
    return str(rasterio.env.get_gdal_config("GDAL_CACHEMAX"))


def test_the_default_cache_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GDAL_CACHEMAX", raising=False)
    with read_env():
        assert cachemax() == "256"


def test_the_operators_cache_size_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GDAL_CACHEMAX", "1024")
    with read_env():
        assert cachemax() == "1024"
    with read_env(GDAL_CACHEMAX=64):  # over a caller's own choice too: the machine is theirs
        assert cachemax() == "1024"


def test_a_share_of_the_ram_is_turned_into_megabytes(monkeypatch: pytest.MonkeyPatch) -> None:
    ram_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20
    monkeypatch.setenv("GDAL_CACHEMAX", "10%")
    assert operator_cachemax() == ram_mb // 10
    with read_env():
        assert abs(int(cachemax()) - ram_mb // 10) <= 1


@pytest.mark.parametrize("value", ["", "lots", "12MB"])
def test_what_gdal_would_not_read_leaves_the_default(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("GDAL_CACHEMAX", value)
    assert operator_cachemax() is None
    with read_env():
        assert cachemax() == "256"


def test_other_options_keep_rastercats_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GDAL_VRT_ENABLE_RAWRASTERBAND", "YES")  # a safety option: not theirs
    with read_env():
        assert rasterio.env.get_gdal_config("GDAL_VRT_ENABLE_RAWRASTERBAND") in ("NO", False)

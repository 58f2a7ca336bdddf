"""Fixtures for the ingest pipeline: tiny real rasters written by rasterio into tmp_path."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from _ingest_helpers import UTM43, UTM43_TRANSFORM
from affine import Affine

from rastercat.config import IngestSettings, Limits, Settings


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    d = tmp_path / "work"
    d.mkdir()
    return d


@pytest.fixture
def limits() -> Limits:
    return Limits()


@pytest.fixture
def write_tif(tmp_path: Path) -> Callable[..., Path]:
    """Write a GeoTIFF: ``write_tif(name, arr (bands, rows, cols), **profile_overrides)``."""

    def write(
        name: str,
        arr: np.ndarray,
        crs: Any = UTM43,
        transform: Affine | None = UTM43_TRANSFORM,
        tags: dict[str, str] | None = None,
        colorinterp: list[Any] | None = None,
        **profile: Any,
    ) -> Path:
        if arr.ndim == 2:
            arr = arr[np.newaxis]
        path = tmp_path / name
        opts: dict[str, Any] = {
            "driver": "GTiff",
            "width": arr.shape[2],
            "height": arr.shape[1],
            "count": arr.shape[0],
            "dtype": arr.dtype.name,
            "crs": crs,
            "transform": transform,
        }
        opts.update(profile)
        with rasterio.open(path, "w", **opts) as dst:
            dst.write(arr)
            if tags:
                dst.update_tags(**tags)
            if colorinterp:
                dst.colorinterp = colorinterp
        return path

    return write


def _zero_tiles(path: Path, indexes: list[int]) -> None:
    """Zero TileOffsets/TileByteCounts entries of IFD 0 of a classic TIFF (a killed writer)."""
    with path.open("r+b") as f:
        head = f.read(8)
        bo = "<" if head[:2] == b"II" else ">"
        (ifd,) = struct.unpack(bo + "I", head[4:8])
        f.seek(ifd)
        (n,) = struct.unpack(bo + "H", f.read(2))
        entries = {}
        for _ in range(n):
            tag, typ, count, value = struct.unpack(bo + "HHII", f.read(12))
            entries[tag] = (typ, count, value)
        for tag in (324, 325):  # TileOffsets, TileByteCounts
            typ, count, value = entries[tag]
            size = {3: 2, 4: 4, 16: 8}[typ]
            for i in indexes:
                f.seek(value + i * size)
                f.write(b"\0" * size)


@pytest.fixture
def zero_tiles() -> Callable[[Path, list[int]], None]:
    return _zero_tiles


def _root_conftest() -> Any:
    """tests/conftest.py loaded under a name of its own, for its ``LiveServer``."""
    import importlib.util
    import sys

    name = "rc_ingest_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parent.parent / "conftest.py"
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before running it: dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def ingest_server(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``ingest_server(**ingest_settings)``: a live server with these ingest settings (for what
    the shared ``server_factory`` fixes: conversion processes, their memory limit, leases)."""
    started: list[Any] = []

    def start(start_workers: bool = True, **ingest: Any) -> Any:
        options: dict[str, Any] = {"workers": 2, "poll_interval": 0.05, "isolate": False}
        options.update(ingest)
        settings = Settings(
            data_dir=tmp_path / f"data{len(started)}",
            ingest=IngestSettings(**options),
            start_workers=start_workers,
        )
        server = _root_conftest().LiveServer(settings).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()

"""SceneCollection: a list of Scenes with grouping helpers, mosaics and stacks (protocol §5.4)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby as _groupby
from typing import IO, TYPE_CHECKING, Any, overload

import numpy as np

from rastercat.client.scenes import _bands
from rastercat.client.scenes._clients import raster_client as _raster
from rastercat.client.scenes.geocontext import GeoContext
from rastercat.client.scenes.scene import Scene, download_file
from rastercat.errors import InvalidInput

if TYPE_CHECKING:  # pragma: no cover
    from rastercat.client.raster import Raster

__all__ = ["Each", "SceneCollection"]

Key = str | Callable[[Scene], Any]


def _getter(key: Key) -> Callable[[Scene], Any]:
    """A callable, or a dotted attribute path such as ``"properties.date.month"``."""
    if callable(key):
        return key
    parts = key.split(".")

    def get(scene: Scene) -> Any:
        value: Any = scene
        for part in parts:
            value = value[part] if isinstance(value, dict) else getattr(value, part)
        return value

    return get


class Each:
    """Apply attribute access, indexing and calls to every item: ``scenes.each.properties.date``.

    Iterate it (or ``collect()``) for the results.
    """

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = list(items)

    def __getattr__(self, name: str) -> Each:
        return Each(getattr(item, name) for item in self._items)

    def __getitem__(self, key: Any) -> Each:
        return Each(item[key] for item in self._items)

    def __call__(self, *args: Any, **kwargs: Any) -> Each:
        return Each(item(*args, **kwargs) for item in self._items)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def collect(self, container: Callable[[Iterable[Any]], Any] = list) -> Any:
        return container(self._items)

    def __repr__(self) -> str:
        return f"Each({self._items!r})"


class SceneCollection(Sequence[Scene]):
    """An ordered collection of Scenes; slicing, ``filter`` and ``sorted`` return collections."""

    def __init__(self, scenes: Iterable[Scene] = ()) -> None:
        self._scenes = list(scenes)

    @overload
    def __getitem__(self, index: int) -> Scene: ...

    @overload
    def __getitem__(self, index: slice) -> SceneCollection: ...

    def __getitem__(self, index: int | slice) -> Scene | SceneCollection:
        if isinstance(index, slice):
            return SceneCollection(self._scenes[index])
        return self._scenes[index]

    def __len__(self) -> int:
        return len(self._scenes)

    def __iter__(self) -> Iterator[Scene]:
        return iter(self._scenes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SceneCollection) and self._scenes == other._scenes

    def __repr__(self) -> str:
        products = sorted({str(s.properties.get("product")) for s in self._scenes})
        return f"SceneCollection of {len(self)} scenes from {', '.join(products) or 'no products'}"

    def append(self, scene: Scene) -> None:
        self._scenes.append(scene)

    def extend(self, scenes: Iterable[Scene]) -> None:
        self._scenes.extend(scenes)

    @property
    def each(self) -> Each:
        return Each(self._scenes)

    def filter(self, predicate: Callable[[Scene], bool]) -> SceneCollection:
        return SceneCollection(s for s in self._scenes if predicate(s))

    def map(self, f: Callable[[Scene], Any]) -> list[Any]:
        return [f(s) for s in self._scenes]

    def sorted(self, *keys: Key, reverse: bool = False) -> SceneCollection:
        """Sorted by one or more keys (dotted attribute paths or callables)."""
        if not keys:
            raise InvalidInput("sorted needs at least one key")
        getters = [_getter(k) for k in keys]
        return SceneCollection(
            sorted(self._scenes, key=lambda s: tuple(g(s) for g in getters), reverse=reverse)
        )

    def groupby(self, *keys: Key) -> Iterator[tuple[Any, SceneCollection]]:
        """``(key, scenes)`` pairs in key order; the key is a tuple when several keys are given."""
        if not keys:
            raise InvalidInput("groupby needs at least one key")
        getters = [_getter(k) for k in keys]

        def key(scene: Scene) -> Any:
            values = tuple(g(scene) for g in getters)
            return values if len(values) > 1 else values[0]

        for value, group in _groupby(sorted(self._scenes, key=key), key=key):
            yield value, SceneCollection(group)

    def _band_request(
        self,
        bands: str | Sequence[str],
        mask_alpha: bool | None,
        scaling: Any,
        data_type: str | None,
    ) -> _bands.BandRequest:
        if not self._scenes:
            raise InvalidInput("the collection is empty")
        if mask_alpha is None:  # one request for all scenes: mask only if every one has alpha
            mask_alpha = all("alpha" in s.properties.bands for s in self._scenes)
        requests = [
            _bands.prepare(
                bands,
                s.properties.bands,
                s.properties.get("product", ""),
                mask_alpha,
                scaling,
                data_type,
            )  # fmt: skip
            for s in self._scenes
        ]
        first = requests[0]
        if any(r.data_type != first.data_type for r in requests):
            raise InvalidInput("the scenes' bands have different dtypes; pass data_type=...")
        return first

    def mosaic(
        self,
        bands: str | Sequence[str],
        ctx: GeoContext,
        mask_nodata: bool = True,
        mask_alpha: bool | None = None,
        bands_axis: int = 0,
        resampler: str = "near",
        processing_level: str | None = None,
        scaling: Any = None,
        data_type: str | None = None,
        raster_info: bool = False,
        raster_client: Raster | None = None,
    ) -> np.ma.MaskedArray | tuple[np.ma.MaskedArray, dict[str, Any]]:
        """All scenes in one request, later scenes painted over earlier ones."""
        request = self._band_request(bands, mask_alpha, scaling, data_type)
        with _raster(raster_client) as raster:
            array, meta = raster.ndarray(
                [s.properties.id for s in self._scenes],
                bands=request.names,
                scales=request.scales,
                data_type=request.data_type,
                resampler=resampler,
                processing_level=processing_level,
                order="gdal",
                **ctx.raster_params,
            )
        result = _bands.masked(array, request, mask_nodata, request.mask_alpha, bands_axis)
        return (result, meta) if raster_info else result

    def stack(
        self,
        bands: str | Sequence[str],
        ctx: GeoContext,
        mask_nodata: bool = True,
        mask_alpha: bool | None = None,
        bands_axis: int = 1,
        resampler: str = "near",
        processing_level: str | None = None,
        scaling: Any = None,
        data_type: str | None = None,
        raster_info: bool = False,
        max_workers: int | None = None,
        raster_client: Raster | None = None,
    ) -> np.ma.MaskedArray | tuple[np.ma.MaskedArray, list[dict[str, Any]]]:
        """Each scene on ``ctx``, read in parallel, stacked: (scene, band, y, x) by default."""
        self._band_request(bands, mask_alpha, scaling, data_type)  # fail before any request
        if bands_axis in (0, -4):
            raise InvalidInput("bands_axis 0 is the scene axis of a stack; use 1 or -1")
        with _raster(raster_client) as raster:

            def read(scene: Scene) -> tuple[np.ma.MaskedArray, dict[str, Any]]:
                out = scene.ndarray(
                    bands, ctx, mask_nodata, mask_alpha, 0, True, resampler, processing_level,
                    scaling, data_type, raster,
                )  # fmt: skip
                assert isinstance(out, tuple)
                return out

            with ThreadPoolExecutor(max_workers=max_workers) as pool:
                results = list(pool.map(read, self._scenes))
        stacked = np.ma.stack([a for a, _ in results])
        stacked = np.ma.MaskedArray(np.moveaxis(stacked, 1, bands_axis))
        return (stacked, [m for _, m in results]) if raster_info else stacked

    def download_mosaic(
        self,
        bands: str | Sequence[str],
        ctx: GeoContext,
        dest: str | os.PathLike[str] | IO[bytes] | None = None,
        format: str = "tif",
        resampler: str = "near",
        processing_level: str | None = None,
        raster_client: Raster | None = None,
    ) -> str | IO[bytes]:
        """Write the mosaic of all scenes on ``ctx`` as one file; returns where it went."""
        request = self._band_request(bands, False, None, None)
        default = f"mosaic-{'-'.join(request.names)}"
        return download_file(
            [s.properties.id for s in self._scenes], request.names, ctx, dest, format, default,
            resampler, processing_level, raster_client,
        )  # fmt: skip

"""``rc.load``: a catalog search as a lazy, dask-backed ``xarray.Dataset``, built by odc-stac from the
STAC API's items (optional extra ``rastercat[xarray]``).

Nothing is read until ``.compute()``: the search returns STAC items (metadata only), and odc-stac
reads the pixels of each chunk from the items' signed COG URLs through GDAL when dask asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rastercat.client.auth import resolve_credentials
from rastercat.errors import InvalidInput


def search_items(
    products: str | Sequence[str],
    *,
    bbox: Sequence[float] | None = None,
    datetime: str | None = None,
    filter: str | dict[str, Any] | None = None,
    url: str | None = None,
    token: str | None = None,
    **search: Any,
) -> list[Any]:
    """Every pystac Item of the products matching the search (all pages)."""
    from pystac_client import Client

    creds = resolve_credentials(url, token)
    client = Client.open(f"{creds.url}/stac/v1/", headers={"Authorization": creds.token})
    collections = [products] if isinstance(products, str) else list(products)
    if not collections:
        raise InvalidInput("load needs at least one product", field="products")
    box = None if bbox is None else [float(v) for v in bbox]
    result = client.search(collections=collections, bbox=box, datetime=datetime, filter=filter,
                           limit=1000, max_items=None, **search)  # fmt: skip
    return list(result.items())


def load(
    products: str | Sequence[str],
    bands: str | Sequence[str] | None = None,
    *,
    bbox: Sequence[float] | None = None,
    datetime: str | None = None,
    crs: Any = None,
    resolution: float | None = None,
    chunks: dict[str, int] | None = None,
    groupby: str | None = "solar_day",
    filter: str | dict[str, Any] | None = None,
    url: str | None = None,
    token: str | None = None,
    **odc_kwargs: Any,
) -> Any:
    """A lazy ``xarray.Dataset`` of the images of ``products`` (band names as in the catalog).

    ``bbox`` (lon/lat) and ``datetime`` (``"2020-01-01/2020-02-01"``, open ends ``..``) narrow
    the search and, with ``crs`` and ``resolution``, define the grid; ``chunks`` defaults to
    2048 x 2048 pixels; ``groupby="solar_day"`` merges the images of one day into one time step.
    Other keyword arguments go to :func:`odc.stac.load` (e.g. ``geobox=`` for an exact grid)."""
    try:
        import odc.stac
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "rc.load needs the xarray extra: pip install 'rastercat[xarray]'"
        ) from None
    items = search_items(
        products, bbox=bbox, datetime=datetime, filter=filter, url=url, token=token
    )
    if not items:
        raise InvalidInput("no images match this search", field="products")
    if isinstance(bands, str):
        bands = [bands]
    box: tuple[float, float, float, float] | None = None
    if bbox is not None and "geobox" not in odc_kwargs:
        if len(bbox) != 4:
            raise InvalidInput("'bbox' must be 4 numbers (lon/lat)", field="bbox")
        box = (float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3]))
    size: dict[str, Any] = dict(chunks or {"x": 2048, "y": 2048})
    if crs is not None and resolution is None and "geobox" not in odc_kwargs:
        raise InvalidInput("give 'resolution' with 'crs'", field="resolution")
    return odc.stac.load(
        items,
        bands=bands,
        bbox=box,
        crs=crs,
        resolution=resolution,
        chunks=size,
        groupby=groupby,
        **odc_kwargs,
    )

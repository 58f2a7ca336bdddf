"""``scenes.search``: the images over an area as Scenes, with a context to read them (§5.3)."""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rastercat.client.scenes._clients import metadata_client as _metadata
from rastercat.client.scenes.collection import SceneCollection
from rastercat.client.scenes.geocontext import AOI, GeoContext
from rastercat.client.scenes.scene import Scene

if TYPE_CHECKING:  # pragma: no cover
    from rastercat.client.metadata import Metadata

__all__ = ["search"]


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, _dt.date) else value


def search(
    aoi: Any,
    products: str | Sequence[str] | None = None,
    start_datetime: str | _dt.date | None = None,
    end_datetime: str | _dt.date | None = None,
    cloud_fraction: float | None = None,
    limit: int | None = 100,
    sort_field: str | None = None,
    sort_order: str = "asc",
    date_field: str = "acquired",
    query: Any = None,
    randomize: Any = False,
    metadata_client: Metadata | None = None,
) -> tuple[SceneCollection, GeoContext]:
    """Scenes intersecting ``aoi`` (a GeoContext, or a geometry that becomes an AOI).

    When the context has neither resolution nor shape, it gets the finest band resolution of the
    products found; when it has no CRS, the most common CRS of the scenes.
    """
    ctx = aoi if isinstance(aoi, GeoContext) else AOI(geometry=aoi)
    if isinstance(products, str):
        products = [products]
    with _metadata(metadata_client) as metadata:
        result = metadata.search(
            products=products,
            geom=ctx.__geo_interface__,
            start_datetime=_iso(start_datetime),
            end_datetime=_iso(end_datetime),
            cloud_fraction=cloud_fraction,
            limit=limit,
            sort_field=sort_field,
            sort_order=sort_order,
            date=date_field,
            q=query,
            randomize=randomize,
        )
        features = result["features"]
        wanted = (
            list(products)
            if products
            else sorted({f["properties"]["product"] for f in features if "properties" in f})
        )
        bands = {pid: metadata.get_bands_by_product(pid) for pid in wanted}
    scenes = SceneCollection(
        Scene(f, bands.get(f.get("properties", {}).get("product"), {})) for f in features
    )
    if isinstance(ctx, AOI):
        changes: dict[str, Any] = {}
        if ctx.resolution is None and ctx.shape is None:
            resolutions = [
                b["resolution"]
                for product_bands in bands.values()
                for b in product_bands.values()
                if isinstance(b.get("resolution"), int | float) and b["resolution"] > 0
            ]
            if resolutions:
                changes["resolution"] = min(resolutions)
        if ctx.crs is None:
            crss = Counter(s.properties.crs for s in scenes if s.properties.get("crs"))
            if crss:
                changes["crs"] = crss.most_common(1)[0][0]
        if changes:
            ctx = ctx.assign(**changes)
    return scenes, ctx

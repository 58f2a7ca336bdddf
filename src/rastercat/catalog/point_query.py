"""The pixel values of every band of the images under one lon/lat point, permission-checked.

Images come from the Metadata search (a point geometry), so the read rule is the search's own;
bands are the ones the caller may read. The pixels themselves are read by ``raster.point``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.principal import Principal
from rastercat.catalog.sources import band_info, source_image
from rastercat.errors import InvalidInput
from rastercat.raster.point import pixel_values
from rastercat.raster.types import BandInfo
from rastercat.store.objects import ObjectStore

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_PRODUCTS = 20


def coordinate(value: Any, name: str, bound: float) -> float:
    """A finite longitude or latitude within ``[-bound, bound]``; otherwise a 400 naming it."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"'{name}' must be a number, got {value!r}", field=name) from None
    if not math.isfinite(number) or not -bound <= number <= bound:
        raise InvalidInput(f"'{name}' must be from {-bound:g} to {bound:g}", field=name)
    return number


@dataclass(frozen=True)
class PointValues:
    """One image under the point and the value of each band there (None: nodata or masked)."""

    image_id: str
    product_id: str
    acquired: str | None
    values: dict[str, float | int | None]

    def to_dict(self) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "product_id": self.product_id,
            "acquired": self.acquired,
            "values": self.values,
        }


class PointQuery:
    """Finds the readable images under a point and reads their pixels there."""

    def __init__(self, metadata: MetadataService, objects: ObjectStore) -> None:
        self.metadata = metadata
        self.objects = objects

    def query(
        self,
        p: Principal,
        products: Sequence[str],
        lon: float | str,
        lat: float | str,
        *,
        start: str | None = None,
        end: str | None = None,
        limit: int = DEFAULT_LIMIT,
    ) -> list[PointValues]:
        """Newest first, at most ``limit`` images. Unknown or hidden products: 404."""
        if not products:
            raise InvalidInput("give at least one product", field="products")
        if len(products) > MAX_PRODUCTS:
            raise InvalidInput(f"at most {MAX_PRODUCTS} products at once", field="products")
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"'limit' must be from 1 to {MAX_LIMIT}", field="limit")
        x = coordinate(lon, "lon", 180)
        y = coordinate(lat, "lat", 90)
        products = list(dict.fromkeys(products))
        bands: dict[str, list[BandInfo]] = {}
        for pid in products:
            self.metadata.get_product(p, pid)  # 404 for an unknown or hidden product
            bands[pid] = [band_info(b) for b in self.metadata.bands_of_product(p, pid)]
        body: dict[str, Any] = {
            "products": products,
            "geom": {"type": "Point", "coordinates": [x, y]},
            "sort_order": "desc",
        }
        if start:
            body["start_datetime"] = start
        if end:
            body["end_datetime"] = end
        out: list[PointValues] = []
        for row in self.metadata.iter_matches(p, body, wanted=limit):
            if not row["storage_key"] or not row["attrs"].get("wkt"):
                continue  # metadata only: no pixels to read
            product_bands = bands[row["product_id"]]
            if not product_bands:
                continue
            values = pixel_values(source_image(row, self.objects), product_bands, x, y)
            if values is None:
                continue
            acquired = row["attrs"].get("acquired")
            out.append(PointValues(row["id"], row["product_id"], acquired, values))
            if len(out) >= limit:
                break
        return out

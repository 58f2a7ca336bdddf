"""The Metadata service client (protocol §3): image search, summaries, products and bands.

Requests are the ones the 0.17 client sends: ``search``/``ids``/``features`` page through
``POST /search`` 1000 at a time with the ``X-Continuation-Token`` header and cut to ``limit`` here.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from rastercat.client._http import METADATA_PATH, Service
from rastercat.client.properties import query_expr
from rastercat.client.raster import Raster, _geometry_string
from rastercat.errors import InvalidInput, ServiceError

__all__ = ["Metadata"]

_BATCH = 1000


def _id(value: str, what: str = "id") -> str:
    """An id as a path segment: the protocol sends ids unencoded, so they cannot hold / ? #."""
    if not isinstance(value, str) or not value or any(c in value for c in "/?#"):
        raise InvalidInput(f"not a valid {what}: {value!r}", field=what)
    return value


def _listify(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _when(value: str | _dt.date | None) -> str | None:
    return value.isoformat() if isinstance(value, _dt.date) else value


class Metadata(Service):
    """Client of the Metadata service (``/metadata/v1``)."""

    path = METADATA_PATH

    def _geom(self, geom: Any, place: str | None, dltile: Any) -> str | None:
        if place is not None:
            raise InvalidInput("place= needs a Places service, which rastercat does not have")
        if dltile is not None:
            key = dltile if isinstance(dltile, str) else dltile["properties"]["key"]
            raster = Raster(credentials=self.credentials)
            try:
                geom = raster.dltile(key)["geometry"]
            finally:
                raster.close()
        return _geometry_string(geom)

    def _query(
        self,
        products: str | Sequence[str] | None,
        sat_ids: str | Sequence[str] | None,
        date: str,
        place: str | None,
        geom: Any,
        start_datetime: Any,
        end_datetime: Any,
        cloud_fraction: float | None,
        cloud_fraction_0: float | None,
        fill_fraction: float | None,
        q: Any,
        dltile: Any,
        kwargs: dict[str, Any],
    ) -> dict[str, Any]:
        """The filter keys shared by ``/search`` and ``/summary``, set ones only (``date`` always)."""
        body: dict[str, Any] = {"date": date}
        optional = {
            "products": _listify(products),
            "sat_ids": _listify(sat_ids),
            "geom": self._geom(geom, place, dltile),
            "start_datetime": _when(start_datetime),
            "end_datetime": _when(end_datetime),
            "cloud_fraction": cloud_fraction,
            "cloud_fraction_0": cloud_fraction_0,
            "fill_fraction": fill_fraction,
            "query_expr": query_expr(q),
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        body.update(kwargs)
        return body

    def paged_search(
        self,
        products: str | Sequence[str] | None = None,
        sat_ids: str | Sequence[str] | None = None,
        date: str = "acquired",
        place: str | None = None,
        geom: Any = None,
        start_datetime: Any = None,
        end_datetime: Any = None,
        cloud_fraction: float | None = None,
        cloud_fraction_0: float | None = None,
        fill_fraction: float | None = None,
        q: Any = None,
        limit: int = 100,
        fields: Sequence[str] | None = None,
        dltile: Any = None,
        sort_field: str | None = None,
        sort_order: str | None = "asc",
        randomize: Any = None,
        continuation_token: str | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """One page of ``limit`` features; ``properties.continuation_token`` names the next page."""
        body = self._query(
            products, sat_ids, date, place, geom, start_datetime, end_datetime,
            cloud_fraction, cloud_fraction_0, fill_fraction, q, dltile, kwargs,
        )  # fmt: skip
        body["limit"] = limit
        extra = {
            "fields": None if fields is None else list(fields),
            "sort_field": sort_field,
            "sort_order": sort_order,
            "random_seed": randomize,
            "continuation_token": continuation_token,
        }
        body.update({k: v for k, v in extra.items() if v is not None})
        response = self.post("/search", json=body)
        features = response.json()
        if not isinstance(features, list):
            raise ServiceError(
                f"/search answered {type(features).__name__}, not a list of features"
            )
        result: dict[str, Any] = {"type": "FeatureCollection", "features": features}
        token = response.headers.get("X-Continuation-Token")
        if token is not None:
            result["properties"] = {"continuation_token": token}
        return result

    def features(
        self,
        products: str | Sequence[str] | None = None,
        sat_ids: str | Sequence[str] | None = None,
        date: str = "acquired",
        place: str | None = None,
        geom: Any = None,
        start_datetime: Any = None,
        end_datetime: Any = None,
        cloud_fraction: float | None = None,
        cloud_fraction_0: float | None = None,
        fill_fraction: float | None = None,
        q: Any = None,
        fields: Sequence[str] | None = None,
        dltile: Any = None,
        sort_field: str | None = None,
        sort_order: str | None = "asc",
        randomize: Any = None,
        batch_size: int = _BATCH,
        **kwargs: Any,
    ) -> Iterator[dict[str, Any]]:
        """Every matching feature, fetched ``batch_size`` at a time (protocol §3.3)."""
        token: str | None = None
        while True:
            page = self.paged_search(
                products, sat_ids, date, place, geom, start_datetime, end_datetime,
                cloud_fraction, cloud_fraction_0, fill_fraction, q, batch_size, fields, dltile,
                sort_field, sort_order, randomize, continuation_token=token, **kwargs,
            )  # fmt: skip
            if not page["features"]:
                return
            yield from page["features"]
            if "properties" not in page:
                raise ServiceError("a /search page came without the X-Continuation-Token header")
            token = page["properties"]["continuation_token"]
            if not token:  # an empty header marks the last page
                return

    def search(
        self,
        products: str | Sequence[str] | None = None,
        sat_ids: str | Sequence[str] | None = None,
        date: str = "acquired",
        place: str | None = None,
        geom: Any = None,
        start_datetime: Any = None,
        end_datetime: Any = None,
        cloud_fraction: float | None = None,
        cloud_fraction_0: float | None = None,
        fill_fraction: float | None = None,
        q: Any = None,
        limit: int | None = 100,
        fields: Sequence[str] | None = None,
        dltile: Any = None,
        sort_field: str | None = None,
        sort_order: str | None = "asc",
        randomize: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Up to ``limit`` features as a GeoJSON FeatureCollection (``limit=None``: all of them)."""
        features = self.features(
            products, sat_ids, date, place, geom, start_datetime, end_datetime, cloud_fraction,
            cloud_fraction_0, fill_fraction, q, fields, dltile, sort_field, sort_order, randomize,
            **kwargs,
        )  # fmt: skip
        return {"type": "FeatureCollection", "features": list(islice(features, limit))}

    def ids(
        self,
        products: str | Sequence[str] | None = None,
        sat_ids: str | Sequence[str] | None = None,
        date: str = "acquired",
        place: str | None = None,
        geom: Any = None,
        start_datetime: Any = None,
        end_datetime: Any = None,
        cloud_fraction: float | None = None,
        cloud_fraction_0: float | None = None,
        fill_fraction: float | None = None,
        q: Any = None,
        limit: int | None = 100,
        dltile: Any = None,
        sort_field: str | None = None,
        randomize: Any = None,
        **kwargs: Any,
    ) -> list[str]:
        """The ids of up to ``limit`` matching images (``fields=[]``, no ``sort_order``, as 0.17)."""
        result = self.search(
            products, sat_ids, date, place, geom, start_datetime, end_datetime, cloud_fraction,
            cloud_fraction_0, fill_fraction, q, limit, [], dltile, sort_field, None, randomize,
            **kwargs,
        )  # fmt: skip
        return [feature["id"] for feature in result["features"]]

    def summary(
        self,
        products: str | Sequence[str] | None = None,
        sat_ids: str | Sequence[str] | None = None,
        date: str = "acquired",
        interval: str | None = None,
        place: str | None = None,
        geom: Any = None,
        start_datetime: Any = None,
        end_datetime: Any = None,
        cloud_fraction: float | None = None,
        cloud_fraction_0: float | None = None,
        fill_fraction: float | None = None,
        q: Any = None,
        pixels: bool | None = None,
        dltile: Any = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Counts, bytes (and pixels) of the matching images, optionally per ``interval`` (§3.4)."""
        body = self._query(
            products, sat_ids, date, place, geom, start_datetime, end_datetime,
            cloud_fraction, cloud_fraction_0, fill_fraction, q, dltile, kwargs,
        )  # fmt: skip
        if interval is not None:
            body["interval"] = interval
        if pixels:
            body["pixels"] = True
        return dict(self.post("/summary", json=body).json())

    def count(self, **filters: Any) -> int:
        """How many images match (``summary(...)["count"]``)."""
        return int(self.summary(**filters)["count"])

    # The 0.17 name: ``get`` here is the image lookup, so HTTP GETs go through ``get_json``.
    def get(self, image_id: str) -> dict[str, Any]:  # type: ignore[override]
        """One image's flat attributes (§3.5)."""
        return dict(self.get_json(f"/get/{_id(image_id, 'image_id')}"))

    def get_by_ids(
        self, ids: Sequence[str], fields: Sequence[str] | None = None, ignore_not_found: bool = True
    ) -> list[dict[str, Any]]:
        """The images among ``ids`` (in order); NotFound for a missing one unless ignored."""
        body: dict[str, Any] = {"ids": list(ids), "ignore_not_found": ignore_not_found}
        if fields is not None:
            body["fields"] = list(fields)
        return list(self.post("/batch/images", json=body).json())

    def products(
        self,
        bands: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        owner: str | None = None,
        text: str | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Products visible to the caller; ``owner`` is a raw token ``sub``, ``text`` a substring."""
        body = {"bands": bands, "limit": limit, "offset": offset, "owner": owner, "text": text}
        body = {k: v for k, v in body.items() if v is not None} | kwargs
        return list(self.post("/products/search", json=body).json())

    def available_products(self) -> list[str]:
        """The ids of every product visible to the caller."""
        return list(self.get_json("/products"))

    def get_product(self, product_id: str) -> dict[str, Any]:
        return dict(self.get_json(f"/products/{_id(product_id, 'product_id')}"))

    def bands(
        self,
        products: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        wavelength: float | None = None,
        resolution: float | None = None,
        tags: Sequence[str] | None = None,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Bands matching the filters (all visible bands without any)."""
        body = {
            "products": _listify(products),
            "limit": limit,
            "offset": offset,
            "wavelength": wavelength,
            "resolution": resolution,
            "tags": tags,
        }
        body = {k: v for k, v in body.items() if v is not None} | kwargs
        return list(self.post("/bands/search", json=body).json())

    def get_bands_by_id(self, image_id: str) -> dict[str, dict[str, Any]]:
        """``{band_id: band}`` for the product of an image."""
        return dict(self.get_json(f"/bands/id/{_id(image_id, 'image_id')}"))

    def get_bands_by_product(self, product_id: str) -> dict[str, dict[str, Any]]:
        """``{band_id: band}`` for a product."""
        return dict(self.get_json(f"/bands/all/{_id(product_id, 'product_id')}"))

    def get_band(self, band_id: str) -> dict[str, Any]:
        return dict(self.get_json(f"/bands/{_id(band_id, 'band_id')}"))

    def get_json(self, path: str, **kwargs: Any) -> Any:
        """GET a path of this service and decode its JSON body."""
        return self.request("GET", path, **kwargs).json()

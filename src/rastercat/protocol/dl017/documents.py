"""Response shapes: JSON:API documents for the Catalog service and flat objects for Metadata."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from rastercat.protocol.timestamps import utc_text


def iso(dt: datetime | None) -> str | None:
    """The one date format of the protocol: ISO 8601 in UTC with its offset (naive means UTC)."""
    return None if dt is None else utc_text(dt, z=False)


def _acl(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"owners": row["owners"], "read": row["readers"], "writers": row["writers"]}


PRODUCT_DEFAULTS = (
    "start_datetime", "end_datetime", "native_bands", "notes", "orbit", "processing_level",
    "resolution", "revisit", "sensor", "spectral_bands", "swath", "tags",
)  # fmt: skip


def product_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    attrs = {k: None for k in PRODUCT_DEFAULTS}
    attrs.update(row["attrs"])
    attrs.update(_acl(row))
    return attrs


def band_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    return {**row["attrs"], "name": row["name"], "product": row["product_id"], **_acl(row)}


def image_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    attrs = {k: v for k, v in row["attrs"].items() if k not in ("wkt",)}
    attrs.update(key=row["key"], product=row["product_id"], **_acl(row))
    return attrs


def _meta(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"modified": iso(row["modified"]), "owner_type": "user"}


def _rel(product_id: str) -> dict[str, Any]:
    return {"product": {"data": {"id": product_id, "type": "product"}}}


def product_doc(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "id": row["id"],
            "type": "product",
            "attributes": product_attributes(row),
            "meta": _meta(row),
        }
    }


def band_doc(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "id": row["id"],
            "type": "band",
            "attributes": band_attributes(row),
            "meta": _meta(row),
            "relationships": _rel(row["product_id"]),
        }
    }


def image_doc(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "id": row["id"],
            "type": "image",
            "attributes": image_attributes(row),
            "meta": _meta(row),
            "relationships": _rel(row["product_id"]),
        }
    }


# Metadata service: flat objects ---------------------------------------------------------------
def flat_product(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **product_attributes(row),
        "id": row["id"],
        "modified": iso(row["modified"]),
        "owner_type": "user",
    }


def flat_band(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        **band_attributes(row),
        "id": row["id"],
        "owner_type": "user",
        "modified": iso(row["modified"]),
    }


def flat_image(row: Mapping[str, Any]) -> dict[str, Any]:
    out = image_attributes(row)
    out["id"] = row["id"]
    out.setdefault("geometry", None)
    out["modified"] = iso(row["modified"])
    return out


def image_feature(row: Mapping[str, Any]) -> dict[str, Any]:
    """An image as a search page's GeoJSON Feature: :func:`flat_image` with ``geometry`` and
    ``id`` lifted out of the properties (the same keys in the same order), built in one pass: a
    page holds hundreds of them."""
    props = dict(row["attrs"])
    props.pop("wkt", None)
    geometry = props.pop("geometry", None)
    props.pop("id", None)
    props["key"] = row["key"]
    props["product"] = row["product_id"]
    props["owners"] = row["owners"]
    props["read"] = row["readers"]
    props["writers"] = row["writers"]
    props["modified"] = iso(row["modified"])
    return {"type": "Feature", "id": row["id"], "key": row["key"], "geometry": geometry,
            "properties": props}  # fmt: skip


# OpenAPI: the shapes above, declared for /docs (routes return the dicts; the OpenAPI fuzz in
# tests/fuzz checks that every answer conforms). Attributes stay open: products, bands and images
# carry whatever attributes they were given.
class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Acl(_Open):
    owners: list[str]
    read: list[str]
    writers: list[str]


class _ProductAttributes(_Acl):
    title: str | None = None
    description: str | None = None


class _BandAttributes(_Acl):
    name: str
    product: str


class _ImageAttributes(_Acl):
    key: str
    product: str


class _Meta(BaseModel):
    modified: str | None
    owner_type: Literal["user"]


class _ProductRef(BaseModel):
    id: str
    type: Literal["product"]


class _ProductLink(BaseModel):
    data: _ProductRef


class _Relationships(BaseModel):
    product: _ProductLink


class _ProductResource(BaseModel):
    id: str
    type: Literal["product"]
    attributes: _ProductAttributes
    meta: _Meta


class _BandResource(BaseModel):
    id: str
    type: Literal["band"]
    attributes: _BandAttributes
    meta: _Meta
    relationships: _Relationships


class _ImageResource(BaseModel):
    id: str
    type: Literal["image"]
    attributes: _ImageAttributes
    meta: _Meta
    relationships: _Relationships


class ProductDocument(BaseModel):
    data: _ProductResource


class BandDocument(BaseModel):
    data: _BandResource


class ImageDocument(BaseModel):
    data: _ImageResource

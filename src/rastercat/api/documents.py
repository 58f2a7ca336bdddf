"""Response shapes: JSON:API documents for the Catalog service and flat objects for Metadata."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    from datetime import UTC

    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat()


def _acl(row: dict[str, Any]) -> dict[str, Any]:
    return {"owners": row["owners"], "read": row["readers"], "writers": row["writers"]}


PRODUCT_DEFAULTS = (
    "start_datetime", "end_datetime", "native_bands", "notes", "orbit", "processing_level",
    "resolution", "revisit", "sensor", "spectral_bands", "swath", "tags",
)  # fmt: skip


def product_attributes(row: dict[str, Any]) -> dict[str, Any]:
    attrs = {k: None for k in PRODUCT_DEFAULTS}
    attrs.update(row["attrs"])
    attrs.update(_acl(row))
    return attrs


def band_attributes(row: dict[str, Any]) -> dict[str, Any]:
    return {**row["attrs"], "name": row["name"], "product": row["product_id"], **_acl(row)}


def image_attributes(row: dict[str, Any]) -> dict[str, Any]:
    attrs = {k: v for k, v in row["attrs"].items() if k not in ("wkt",)}
    attrs.update(key=row["key"], product=row["product_id"], **_acl(row))
    return attrs


def _meta(row: dict[str, Any]) -> dict[str, Any]:
    return {"modified": iso(row["modified"]), "owner_type": "user"}


def _rel(product_id: str) -> dict[str, Any]:
    return {"product": {"data": {"id": product_id, "type": "product"}}}


def product_doc(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "id": row["id"],
            "type": "product",
            "attributes": product_attributes(row),
            "meta": _meta(row),
        }
    }


def band_doc(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "data": {
            "id": row["id"],
            "type": "band",
            "attributes": band_attributes(row),
            "meta": _meta(row),
            "relationships": _rel(row["product_id"]),
        }
    }


def image_doc(row: dict[str, Any]) -> dict[str, Any]:
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
def flat_product(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **product_attributes(row),
        "id": row["id"],
        "modified": iso(row["modified"]),
        "owner_type": "user",
    }


def flat_band(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **band_attributes(row),
        "id": row["id"],
        "owner_type": "user",
        "modified": iso(row["modified"]),
    }


def flat_image(row: dict[str, Any]) -> dict[str, Any]:
    out = image_attributes(row)
    out["id"] = row["id"]
    out.setdefault("geometry", None)
    out["modified"] = iso(row["modified"])
    return out

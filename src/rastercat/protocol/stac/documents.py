"""The STAC API's other documents: landing page, conformance, collections, item collections and
queryables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rastercat.protocol.stac.items import (
    COG_TYPE,
    EO,
    RASTER,
    STAC_VERSION,
    eo_band,
    iso,
    raster_band,
)
from rastercat.protocol.stac.links import GEOJSON, JSON, Links

CORE = "https://api.stacspec.org/v1.0.0/core"
CONFORMANCE = [
    CORE,
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.1.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
    "https://api.stacspec.org/v1.1.0/ogcapi-features#sort",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
]
"""What the API conforms to: the v1.0.0 URIs that pystac-client and QGIS look for, and the
v1.1.0 sort URIs beside them."""


def landing(links: Links, title: str, description: str, openapi: str, docs: str,
            collection_ids: Sequence[str]) -> dict[str, Any]:  # fmt: skip
    out = [
        links.link("self", links.root(), JSON),
        links.link("root", links.root(), JSON),
        links.link("conformance", links.url("/conformance"), JSON),
        links.link("data", links.url("/collections"), JSON),
        links.link("search", links.url("/search"), GEOJSON, method="GET"),
        links.link("search", links.url("/search"), GEOJSON, method="POST"),
        links.link("service-desc", openapi, "application/vnd.oai.openapi+json;version=3.0"),
        links.link("service-doc", docs, "text/html"),
        links.link(
            "http://www.opengis.net/def/rel/ogc/1.0/queryables",
            links.url("/queryables"),
            "application/schema+json",
        ),  # fmt: skip
    ]
    out += [links.link("child", links.collection(c), JSON) for c in collection_ids]
    return {
        "type": "Catalog",
        "stac_version": STAC_VERSION,
        "id": "rastercat",
        "title": title,
        "description": description,
        "conformsTo": CONFORMANCE,
        "links": out,
    }


def _summaries(bands: Sequence[dict[str, Any]]) -> dict[str, Any]:
    if not bands:
        return {}
    return {
        "raster:bands": [raster_band(b) for b in bands],
        "eo:bands": [eo_band(b) for b in bands],
    }


def collection(
    row: dict[str, Any],
    bands: Sequence[dict[str, Any]],
    extent: dict[str, Any],
    links: Links,
    default_license: str,
) -> dict[str, Any]:
    """A product as a Collection; ``extent``: bbox and dates of its images (see
    :meth:`rastercat.catalog.stac_collections.StacCollections.extents`)."""
    attrs = row["attrs"]
    pid = row["id"]
    bbox = extent.get("bbox") or [-180.0, -90.0, 180.0, 90.0]
    start = extent.get("start") or attrs.get("start_datetime")
    end = extent.get("end") or attrs.get("end_datetime")
    providers = [{"name": "rastercat", "roles": ["host", "processor"]}]
    if attrs.get("sensor"):
        providers.append({"name": str(attrs["sensor"]), "roles": ["producer"]})
    summaries = _summaries(bands)
    if attrs.get("resolution") is not None:
        summaries["gsd"] = [attrs["resolution"]]
    doc: dict[str, Any] = {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [RASTER, EO],
        "id": pid,
        "title": attrs.get("title") or pid,
        "description": attrs.get("description") or attrs.get("title") or pid,
        "keywords": [str(k) for k in attrs.get("tags") or []],
        "license": attrs.get("license") or default_license,
        "providers": providers,
        "extent": {
            "spatial": {"bbox": [bbox]},
            "temporal": {
                "interval": [
                    [
                        iso(start) if not isinstance(start, str) else start,
                        iso(end) if not isinstance(end, str) else end,
                    ]
                ]
            },
        },  # fmt: skip
        "summaries": summaries,
        "item_assets": {
            "data": {
                "type": COG_TYPE,
                "title": "Cloud-optimized GeoTIFF",
                "roles": ["data"],
                **(
                    {"raster:bands": summaries["raster:bands"], "eo:bands": summaries["eo:bands"]}
                    if bands
                    else {}
                ),  # fmt: skip
            },
            "thumbnail": {"type": "image/png", "title": "Thumbnail", "roles": ["thumbnail"]},
        },
        "links": [
            links.link("self", links.collection(pid), JSON),
            links.link("parent", links.root(), JSON),
            links.link("root", links.root(), JSON),
            links.link("items", links.collection(pid) + "/items", GEOJSON),
            links.link(
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                links.collection(pid) + "/queryables",
                "application/schema+json",
            ),  # fmt: skip
        ],
    }
    return doc


def collections(docs: list[dict[str, Any]], links: Links) -> dict[str, Any]:
    return {
        "collections": docs,
        "links": [
            links.link("self", links.url("/collections"), JSON),
            links.link("root", links.root(), JSON),
            links.link("parent", links.root(), JSON),
        ],
    }


def item_collection(
    features: list[dict[str, Any]], links: list[dict[str, Any]], matched: int | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "FeatureCollection", "features": features, "links": links}
    out["numberReturned"] = len(features)
    if matched is not None:
        out["numberMatched"] = matched
    return out


IMAGE_QUERYABLES: dict[str, dict[str, Any]] = {
    "id": {"type": "string", "title": "Item (image) id"},
    "collection": {"type": "string", "title": "Collection (product) id"},
    "datetime": {"type": "string", "format": "date-time", "title": "Acquisition time"},
    "geometry": {"$ref": "https://geojson.org/schema/Geometry.json", "title": "Footprint"},
    "key": {"type": "string", "title": "Image key within its product"},
}


def _json_type(annotation: Any) -> dict[str, Any]:
    text = str(annotation)
    if "list" in text:
        return {"type": "array"}
    if "str" in text:
        return {"type": "string"}
    if "int" in text and "float" not in text and "Number" not in text:
        return {"type": "integer"}
    if "float" in text or "Number" in text or "int" in text:
        return {"type": "number"}
    return {}


def image_field_queryables() -> dict[str, dict[str, Any]]:
    """The image attributes a filter can name, with their JSON types."""
    from rastercat.protocol.dl017.image_attrs import ImageAttrs

    hidden = {"geometry", "wkt", "proj4", "read", "owners", "writers", "extra_properties", "key",
              "acquired", "geotrans", "raster_size"}  # fmt: skip
    out = dict(IMAGE_QUERYABLES)
    for name, info in ImageAttrs.model_fields.items():
        name = name.rstrip("_")  # pass_ is stored as "pass"
        if name not in hidden:
            out[name] = _json_type(info.annotation)
    return out


def queryables(url: str, extra: dict[str, str], title: str = "rastercat items") -> dict[str, Any]:
    """A JSON Schema of the properties a CQL2 filter can name; ``extra``: extra property name to
    its JSON type (``string`` or ``number``)."""
    props = image_field_queryables()
    for name, kind in extra.items():
        props.setdefault(name, {"type": kind, "title": f"extra property {name}"})
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": url,
        "type": "object",
        "title": title,
        "properties": props,
        "additionalProperties": True,
    }

"""Metadata service routes (wire protocol §3), mounted at ``/metadata/v1``.

Route order matters: ``/bands/search``, ``/bands/derived/...``, ``/bands/id/...`` and
``/bands/all/...`` come before ``/bands/{band_id}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request

from rastercat.api.deps import PrincipalDep, StateDep, read_as_caller
from rastercat.api.responses import FastJSONResponse
from rastercat.catalog.metadata import MetadataService
from rastercat.catalog.principal import Principal
from rastercat.errors import NotFound
from rastercat.protocol.bodies import json_object
from rastercat.protocol.dl017.documents import flat_band, flat_image, flat_product, image_feature
from rastercat.protocol.dl017.requests import SearchRequest, parse_fields

router = APIRouter()
AnyBody = Body(default_factory=dict)


def _svc(state: Any) -> MetadataService:
    return state.metadata


def feature(row: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if fields is None:
        return image_feature(row)
    flat = flat_image(row)
    out: dict[str, Any] = {"id": row["id"]}
    props: dict[str, Any] = {}
    if "key" in fields:
        out["key"] = row["key"]
        out["properties"] = props
    if "geometry" in fields:
        out.update(type="Feature", geometry=flat["geometry"], properties=props)
    for f in fields:
        if f not in ("key", "geometry", "id"):
            out["properties"] = props
            if f in flat:
                props[f] = flat[f]
    return out


@router.post("/search")
async def search(request: Request, state: StateDep, body: Any = AnyBody) -> FastJSONResponse:
    def page(p: Principal) -> FastJSONResponse:
        req = SearchRequest.parse(body)
        rows, token = _svc(state).search(p, req.body)
        # Every page carries the header; an empty value ends the client's paging (protocol §3.3).
        return FastJSONResponse(
            [feature(r, req.fields) for r in rows], headers={"X-Continuation-Token": token or ""}
        )

    return await read_as_caller(request, page, remembered=True)


@router.post("/summary")
def summary(state: StateDep, p: PrincipalDep, body: Any = AnyBody) -> dict:
    return _svc(state).summary(p, json_object(body))


@router.get("/get/{image_id}")
def get_image(state: StateDep, p: PrincipalDep, image_id: str) -> dict:
    return flat_image(_svc(state).get_image(p, image_id))


@router.post("/batch/images")
def batch_images(state: StateDep, p: PrincipalDep, body: Any = AnyBody) -> list[dict]:
    body = json_object(body)
    rows = _svc(state).get_images(
        p, body.get("ids") or [], bool(body.get("ignore_not_found", True))
    )
    fields = parse_fields(body.get("fields"))
    out = [flat_image(r) for r in rows]
    if fields:
        keep = set(fields) | {"id"}
        out = [{k: v for k, v in o.items() if k in keep} for o in out]
    return out


@router.post("/products/search")
def search_products(state: StateDep, p: PrincipalDep, body: Any = AnyBody) -> list[dict]:
    return [flat_product(r) for r in _svc(state).search_products(p, json_object(body))]


@router.get("/products")
def available_products(state: StateDep, p: PrincipalDep) -> list[str]:
    return [r["id"] for r in _svc(state).readable_products(p)]


@router.get("/products/{pid}")
def get_product(state: StateDep, p: PrincipalDep, pid: str) -> dict:
    return flat_product(_svc(state).get_product(p, pid))


@router.post("/bands/search")
def search_bands(state: StateDep, p: PrincipalDep, body: Any = AnyBody) -> list[dict]:
    return [flat_band(r) for r in _svc(state).search_bands(p, json_object(body))]


@router.post("/bands/derived/search")
def search_derived_bands(p: PrincipalDep, body: Any = AnyBody) -> list[dict]:
    return []


@router.get("/bands/derived/{band_id}")
def get_derived_band(p: PrincipalDep, band_id: str) -> dict:
    raise NotFound(f"derived band {band_id!r} not found (rastercat has no derived bands yet)")


@router.get("/bands/id/{image_id}")
def bands_of_image(state: StateDep, p: PrincipalDep, image_id: str) -> dict:
    svc = _svc(state)
    image = svc.get_image(p, image_id)
    return {b["id"]: flat_band(b) for b in svc.bands_of_product(p, image["product_id"])}


@router.get("/bands/all/{pid}")
def bands_of_product(state: StateDep, p: PrincipalDep, pid: str) -> dict:
    return {b["id"]: flat_band(b) for b in _svc(state).bands_of_product(p, pid)}


@router.get("/bands/{band_id}")
def get_band(state: StateDep, p: PrincipalDep, band_id: str) -> dict:
    return flat_band(_svc(state).get_band(p, band_id))


@router.get("/sources")
def sources(state: StateDep, p: PrincipalDep) -> list[dict]:
    return [{"product": r["id"]} for r in _svc(state).readable_products(p)]

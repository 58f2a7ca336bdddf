"""Catalog service routes (wire protocol §2), mounted at ``/metadata/v1/catalog``.

Bodies are validated by the service (one set of rules whoever calls it); the OpenAPI document
declares them with the same models (:func:`_body`), and the answers with the models of
:mod:`rastercat.protocol.dl017.documents`, so ``/docs`` shows what is accepted and what comes back.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Request, Response
from pydantic import BaseModel

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.api.errors import error_responses
from rastercat.errors import Forbidden
from rastercat.protocol.bodies import json_object
from rastercat.protocol.dl017.documents import (
    BandDocument,
    ImageDocument,
    ProductDocument,
    band_doc,
    image_doc,
    product_doc,
)
from rastercat.protocol.dl017.image_attrs import ImageAttrs
from rastercat.protocol.validation import (
    _SAFE_NAME,
    BAND_TYPES,
    COLORMAP_NAMES,
    COLORS,
    DTYPES,
    REQUIRED_BAND_FIELDS,
    BandAttrs,
    ProductAttrs,
    StrictModel,
)

router = APIRouter(responses=error_responses())

JsonBody = Body(default_factory=dict)
PidPath = Annotated[str, Path(description="Product id: `<namespace>:<name>`")]
NamePath = Annotated[str, Path(description="Band name, or the band id `<product id>:<name>`")]
KeyPath = Annotated[str, Path(description="Image key, or the image id `<product id>:<key>`")]


# OpenAPI request bodies ---------------------------------------------------------------------
# What check_product_id / check_key reject that a JSON Schema pattern can say (the service also
# rejects '..' and spaces at the ends).
_ID: dict[str, Any] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 300,
    "pattern": r"^[^/?#\\\x00-\x1f\x7f]+$",
}
_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
_PAIR: dict[str, Any] = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}
# Band attributes whose validators say more than their types.
_BAND_FIELDS: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "pattern": _SAFE_NAME.pattern},
    "dtype": {"enum": list(DTYPES)},
    "type": {"enum": list(BAND_TYPES)},
    "color": {"enum": list(COLORS)},
    "colormap_name": {"enum": list(COLORMAP_NAMES)},
    "data_range": _PAIR,
    "physical_range": _PAIR,
    "default_range": _PAIR,
    "colormap": {
        "type": "array",
        "minItems": 256,
        "maxItems": 256,
        "items": {
            "type": "array",
            "minItems": 4,
            "maxItems": 4,
            "items": {"type": "integer", "minimum": 0, "maximum": 255},
        },
    },
}


def _not_null(prop: dict[str, Any]) -> dict[str, Any]:
    branches = [b for b in prop.get("anyOf", []) if b != {"type": "null"}]
    if len(branches) != 1:
        return {**prop, "anyOf": branches} if branches else prop
    rest = {k: v for k, v in prop.items() if k not in ("anyOf", "default")}
    return {**rest, **branches[0]}


def _body(
    model: type[StrictModel],
    *,
    by_alias: bool = False,
    fields: dict[str, dict[str, Any]] | None = None,
    required: tuple[str, ...] = (),
) -> dict[str, Any]:
    """``openapi_extra`` declaring a JSON body: ``model``'s fields (the service validates with it),
    ``fields`` added or made more precise, and the ``required`` ones (never null)."""
    schema = model.model_json_schema(by_alias=by_alias)
    props: dict[str, Any] = schema["properties"]
    for name, prop in (fields or {}).items():
        props[name] = {"anyOf": [prop, {"type": "null"}]} if name in props else prop
    for name in required:
        props[name] = _not_null(props[name])
    schema.update(properties=props, required=list(required))
    schema.pop("title", None)
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": bool(required), "content": content}}


_PRODUCT_NEW = _body(
    ProductAttrs,
    fields={"id": _ID, "title": _TEXT, "description": _TEXT},
    required=("id", "title", "description"),
)
_PRODUCT_REPLACE = _body(
    ProductAttrs, fields={"title": _TEXT, "description": _TEXT}, required=("title", "description")
)
_PRODUCT_CHANGE = _body(ProductAttrs, fields={"id": {"type": "string"}})
_BAND_NEW = _body(BandAttrs, fields=_BAND_FIELDS, required=("name", *REQUIRED_BAND_FIELDS))
# PUT replaces every attribute: the band must be complete again.
_BAND_REPLACE = _body(
    BandAttrs, fields={**_BAND_FIELDS, "id": {"type": "string"}}, required=REQUIRED_BAND_FIELDS
)
_BAND_CHANGE = _body(BandAttrs, fields={**_BAND_FIELDS, "id": {"type": "string"}})
_IMAGE_NEW = _body(ImageAttrs, by_alias=True, fields={"id": _ID}, required=("id",))
_IMAGE_CHANGE = _body(ImageAttrs, by_alias=True, fields={"id": {"type": "string"}})


def _doc(model: type[BaseModel], status: int = 200) -> dict[str, Any]:
    return {"response_model": None, "responses": {status: {"model": model}}}


_NO_CONTENT: dict[int | str, dict[str, Any]] = {204: {"description": "Deleted"}}


# Routes -------------------------------------------------------------------------------------
@router.post("/core/products", include_in_schema=False)
@router.post("/core/products/{pid}/bands", include_in_schema=False)
@router.post("/core/products/{pid}/images", include_in_schema=False)
def core_routes() -> None:
    raise Forbidden("core products are internal to the platform; use /products")


@router.post("/products", status_code=201, openapi_extra=_PRODUCT_NEW, **_doc(ProductDocument, 201))
def add_product(state: StateDep, p: PrincipalDep, body: Any = JsonBody) -> dict:
    return product_doc(state.catalog.create_product(p, json_object(body)))


class _TaskCounts(BaseModel):
    total: int
    deleted: int
    failures: list[Any]


class _Task(BaseModel):
    status: _TaskCounts
    product: str


class _TaskResponse(BaseModel):
    deleted: int
    total: int
    failures: list[Any]
    timed_out: bool


class DeletionTask(BaseModel):
    completed: bool
    status: Literal["PENDING", "RUNNING", "SUCCESS", "FAILURE"]
    task: _Task
    response: _TaskResponse | None = None


@router.get("/products/deletion_tasks/{task_id}", **_doc(DeletionTask))
def deletion_status(state: StateDep, p: PrincipalDep, task_id: str) -> dict:
    row = state.catalog.deletion_status(p, task_id)
    done = row["status"] in ("SUCCESS", "FAILURE")
    out: dict[str, Any] = {
        "completed": done,
        "status": row["status"],
        "task": {
            "status": {
                "total": row["total"],
                "deleted": row["deleted"],
                "failures": row["errors"],
            },
            "product": row["product_id"],
        },
    }
    if done:
        out["response"] = {
            "deleted": row["deleted"],
            "total": row["total"],
            "failures": row["errors"],
            "timed_out": False,
        }
    return out


@router.get("/products/{pid}", **_doc(ProductDocument))
def get_product(state: StateDep, p: PrincipalDep, pid: PidPath) -> dict:
    return product_doc(state.catalog.get_product(p, pid))


SetGlobalQuery = Annotated[
    bool,
    Query(description="Also give the product's new `read` and `writers` to its bands and images"),
]


@router.put("/products/{pid}", openapi_extra=_PRODUCT_REPLACE, **_doc(ProductDocument))
@router.patch("/products/{pid}", openapi_extra=_PRODUCT_CHANGE, **_doc(ProductDocument))
def change_product(
    request: Request,
    state: StateDep,
    p: PrincipalDep,
    pid: PidPath,
    set_global_permissions: SetGlobalQuery = False,
    body: Any = JsonBody,
) -> dict:
    row = state.catalog.update_product(
        p,
        pid,
        json_object(body),
        replace=request.method == "PUT",
        set_global=set_global_permissions,
    )
    return product_doc(row)


class DeletionStarted(BaseModel):
    deletion_task: str


@router.delete(
    "/products/{pid}",
    response_model=None,
    responses={
        200: {"model": DeletionStarted, "description": "Cascade deletion started"},
        **_NO_CONTENT,
    },
)
def remove_product(
    state: StateDep,
    p: PrincipalDep,
    pid: PidPath,
    cascade: Annotated[
        bool, Query(description="Also delete its bands, images and files (a background task)")
    ] = False,
) -> Response:
    task = state.catalog.delete_product(p, pid, cascade=cascade)
    if task is None:
        return Response(status_code=204, media_type="text/plain")
    # The 0.17 client compares the content type exactly (protocol §2.6): no charset.
    return Response(
        json.dumps({"deletion_task": task}),
        status_code=200,
        headers={"content-type": "application/json"},
    )


@router.post(
    "/products/{pid}/bands", status_code=201, openapi_extra=_BAND_NEW, **_doc(BandDocument, 201)
)
def add_band(state: StateDep, p: PrincipalDep, pid: PidPath, body: Any = JsonBody) -> dict:
    return band_doc(state.catalog.create_band(p, pid, json_object(body)))


@router.get("/products/{pid}/bands/{name}", **_doc(BandDocument))
def get_band(state: StateDep, p: PrincipalDep, pid: PidPath, name: NamePath) -> dict:
    return band_doc(state.catalog.get_band(p, pid, name))


@router.put("/products/{pid}/bands/{name}", openapi_extra=_BAND_REPLACE, **_doc(BandDocument))
@router.patch("/products/{pid}/bands/{name}", openapi_extra=_BAND_CHANGE, **_doc(BandDocument))
def change_band(
    request: Request,
    state: StateDep,
    p: PrincipalDep,
    pid: PidPath,
    name: NamePath,
    body: Any = JsonBody,
) -> dict:
    row = state.catalog.update_band(
        p, pid, name, json_object(body), replace=request.method == "PUT"
    )
    return band_doc(row)


@router.delete("/products/{pid}/bands/{name}", status_code=204, responses=_NO_CONTENT)
def remove_band(
    state: StateDep,
    p: PrincipalDep,
    pid: PidPath,
    name: NamePath,
    force: Annotated[
        bool, Query(description="Delete it even while images with pixels still hold it")
    ] = False,
) -> Response:
    state.catalog.delete_band(p, pid, name, force=force)
    return Response(status_code=204)


@router.post(
    "/products/{pid}/images", status_code=201, openapi_extra=_IMAGE_NEW, **_doc(ImageDocument, 201)
)
def add_image(state: StateDep, p: PrincipalDep, pid: PidPath, body: Any = JsonBody) -> dict:
    return image_doc(state.catalog.create_image(p, pid, json_object(body)))


@router.get("/products/{pid}/images/{key}", **_doc(ImageDocument))
def get_image(state: StateDep, p: PrincipalDep, pid: PidPath, key: KeyPath) -> dict:
    return image_doc(state.catalog.get_image(p, pid, key))


@router.put("/products/{pid}/images/{key}", openapi_extra=_IMAGE_CHANGE, **_doc(ImageDocument))
@router.patch("/products/{pid}/images/{key}", openapi_extra=_IMAGE_CHANGE, **_doc(ImageDocument))
def change_image(
    request: Request,
    state: StateDep,
    p: PrincipalDep,
    pid: PidPath,
    key: KeyPath,
    body: Any = JsonBody,
) -> dict:
    row = state.catalog.update_image(
        p, pid, key, json_object(body), replace=request.method == "PUT"
    )
    return image_doc(row)


@router.delete("/products/{pid}/images/{key}", status_code=204, responses=_NO_CONTENT)
def remove_image(state: StateDep, p: PrincipalDep, pid: PidPath, key: KeyPath) -> Response:
    state.images.delete(p, pid, key)  # the record, then the file rastercat wrote
    return Response(status_code=204)

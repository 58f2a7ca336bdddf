"""Catalog service routes (wire protocol §2), mounted at ``/metadata/v1/catalog``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request, Response

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.api.documents import band_doc, image_doc, product_doc
from rastercat.errors import Forbidden, InvalidInput

router = APIRouter()

JsonBody = Body(default_factory=dict)


def _bool(value: str | None) -> bool:
    if value is None:
        return False
    v = value.strip().lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no", ""):
        return False
    raise InvalidInput(f"expected true or false, got {value!r}")


def _obj(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("the request body must be a JSON object")
    return body


@router.post("/core/products", include_in_schema=False)
@router.post("/core/products/{pid}/bands", include_in_schema=False)
@router.post("/core/products/{pid}/images", include_in_schema=False)
def core_routes() -> None:
    raise Forbidden("core products are internal to the platform; use /products")


@router.post("/products", status_code=201)
def add_product(state: StateDep, p: PrincipalDep, body: Any = JsonBody) -> dict:
    return product_doc(state.catalog.create_product(p, _obj(body)))


@router.get("/products/deletion_tasks/{task_id}")
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


@router.get("/products/{pid}")
def get_product(state: StateDep, p: PrincipalDep, pid: str) -> dict:
    return product_doc(state.catalog.get_product(p, pid))


@router.put("/products/{pid}")
@router.patch("/products/{pid}")
def change_product(
    request: Request,
    state: StateDep,
    p: PrincipalDep,
    pid: str,
    set_global_permissions: str | None = None,
    body: Any = JsonBody,
) -> dict:
    row = state.catalog.update_product(
        p,
        pid,
        _obj(body),
        replace=request.method == "PUT",
        set_global=_bool(set_global_permissions),
    )
    return product_doc(row)


@router.delete("/products/{pid}")
def remove_product(
    state: StateDep, p: PrincipalDep, pid: str, cascade: str | None = None
) -> Response:
    task = state.catalog.delete_product(p, pid, cascade=_bool(cascade))
    if task is None:
        return Response(status_code=204, media_type="text/plain")
    # The 0.17 client compares the content type exactly (protocol §2.6): no charset.
    import json

    return Response(
        json.dumps({"deletion_task": task}),
        status_code=200,
        headers={"content-type": "application/json"},
    )


@router.post("/products/{pid}/bands", status_code=201)
def add_band(state: StateDep, p: PrincipalDep, pid: str, body: Any = JsonBody) -> dict:
    return band_doc(state.catalog.create_band(p, pid, _obj(body)))


@router.get("/products/{pid}/bands/{name}")
def get_band(state: StateDep, p: PrincipalDep, pid: str, name: str) -> dict:
    return band_doc(state.catalog.get_band(p, pid, name))


@router.put("/products/{pid}/bands/{name}")
@router.patch("/products/{pid}/bands/{name}")
def change_band(
    request: Request, state: StateDep, p: PrincipalDep, pid: str, name: str, body: Any = JsonBody
) -> dict:
    row = state.catalog.update_band(p, pid, name, _obj(body), replace=request.method == "PUT")
    return band_doc(row)


@router.delete("/products/{pid}/bands/{name}", status_code=204)
def remove_band(
    state: StateDep, p: PrincipalDep, pid: str, name: str, force: str | None = None
) -> Response:
    state.catalog.delete_band(p, pid, name, force=_bool(force))
    return Response(status_code=204)


@router.post("/products/{pid}/images", status_code=201)
def add_image(state: StateDep, p: PrincipalDep, pid: str, body: Any = JsonBody) -> dict:
    return image_doc(state.catalog.create_image(p, pid, _obj(body)))


@router.get("/products/{pid}/images/{key}")
def get_image(state: StateDep, p: PrincipalDep, pid: str, key: str) -> dict:
    return image_doc(state.catalog.get_image(p, pid, key))


@router.put("/products/{pid}/images/{key}")
@router.patch("/products/{pid}/images/{key}")
def change_image(
    request: Request, state: StateDep, p: PrincipalDep, pid: str, key: str, body: Any = JsonBody
) -> dict:
    row = state.catalog.update_image(p, pid, key, _obj(body), replace=request.method == "PUT")
    return image_doc(row)


@router.delete("/products/{pid}/images/{key}", status_code=204)
def remove_image(state: StateDep, p: PrincipalDep, pid: str, key: str) -> Response:
    storage_key = state.catalog.delete_image(p, pid, key)
    if storage_key and "objects" in state.extras:
        state.extras["objects"].delete(storage_key)
    return Response(status_code=204)

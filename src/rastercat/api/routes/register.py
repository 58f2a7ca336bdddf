"""``POST /products/{pid}/images/register``: record existing files as images, in place."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from rastercat.api.deps import PrincipalDep, StateDep

router = APIRouter()


class RegisterItem(BaseModel):
    """One file: where it is, and optionally its image id and attributes (``acquired``...)."""

    model_config = ConfigDict(extra="allow")
    href: str = Field(description="an absolute path under RASTERCAT_REGISTER__ROOTS, or "
                      "s3://bucket/key in a bucket of RASTERCAT_REGISTER__BUCKETS")  # fmt: skip
    id: str | None = Field(default=None, description="the image id; default: the file's stem")


class RegisterCreate(BaseModel):
    data: list[RegisterItem]


class RegisterResult(BaseModel):
    href: str
    id: str
    in_place: bool
    status: str = Field(description="SUCCESS (recorded in place) or PENDING (converting)")
    log: list[str] | None = None
    upload_id: str | None = Field(default=None, description="the conversion's upload result")
    upload_uid: str | None = None


class RegisterPublic(BaseModel):
    data: list[RegisterResult]


@router.post("/products/{pid}/images/register", response_model=RegisterPublic)
def register_images(
    state: StateDep, p: PrincipalDep, pid: str, body: RegisterCreate
) -> dict[str, Any]:
    """Record existing files without copying them: a valid COG whose bands are the product's is
    recorded where it is (``SUCCESS``); any other file is converted by an ingest job
    (``PENDING``, shown by upload results). All files are checked before any is recorded."""
    registrar = state.registrar
    items = [item.model_dump(exclude_none=True) for item in body.data]
    return {"data": registrar.register(p, pid, items)}

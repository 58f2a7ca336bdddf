"""Health and identity."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from rastercat import __version__
from rastercat.api.deps import PrincipalDep
from rastercat.api.errors import error_responses

router = APIRouter(responses=error_responses())


class Health(BaseModel):
    status: str
    version: str


class WhoAmI(BaseModel):
    name: str
    sub: str
    namespace: str
    groups: list[str]
    org: str | None
    principals: list[str]


@router.get("/health")
def health() -> Health:
    return Health(status="ok", version=__version__)


@router.get("/whoami")
def whoami(p: PrincipalDep) -> WhoAmI:
    return WhoAmI(
        name=p.name,
        sub=p.sub,
        namespace=p.namespace,
        groups=sorted(p.groups),
        org=p.org,
        principals=sorted(p.principals),
    )

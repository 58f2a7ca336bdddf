"""Health and identity."""

from __future__ import annotations

from fastapi import APIRouter

from rastercat import __version__
from rastercat.api.deps import PrincipalDep

router = APIRouter()


@router.get("/health")
def health() -> dict:
    return {"status": "ok", "version": __version__}


@router.get("/whoami")
def whoami(p: PrincipalDep) -> dict:
    return {
        "name": p.name,
        "sub": p.sub,
        "namespace": p.namespace,
        "groups": sorted(p.groups),
        "org": p.org,
        "principals": sorted(p.principals),
    }

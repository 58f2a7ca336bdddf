"""Request dependencies: the app state and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rastercat.api.state import AppState
from rastercat.catalog.principal import Principal


async def get_state(request: Request) -> AppState:
    """Async: it does no I/O, and a sync dependency costs a trip through the thread pool."""
    return request.app.state.rc


def get_principal(request: Request) -> Principal:
    """The caller, from the ``Authorization`` header (the only place the 0.17 client sends it)."""
    state: AppState = request.app.state.rc
    return state.users.authenticate(request.headers.get("authorization"))


def get_tile_principal(request: Request) -> Principal:
    """The caller of a tile or TileJSON route: the header, else ``?token=``, since a web map's
    ``<img>`` tiles (and QGIS XYZ layers) cannot send headers. Nowhere else: a token in a URL
    ends up in logs and browser histories."""
    state: AppState = request.app.state.rc
    token = request.headers.get("authorization")
    if token is None:
        token = request.query_params.get("token")
    return state.users.authenticate(token)


StateDep = Annotated[AppState, Depends(get_state)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
TilePrincipalDep = Annotated[Principal, Depends(get_tile_principal)]

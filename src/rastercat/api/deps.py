"""Request dependencies: the app state and the authenticated principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from rastercat.api.state import AppState
from rastercat.catalog.principal import Principal


def get_state(request: Request) -> AppState:
    return request.app.state.rc


def get_principal(request: Request) -> Principal:
    state: AppState = request.app.state.rc
    token = request.headers.get("authorization")
    if token is None:
        token = request.query_params.get("token")
    return state.users.authenticate(token)


StateDep = Annotated[AppState, Depends(get_state)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]

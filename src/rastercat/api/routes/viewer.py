"""The web viewer: static files shipped in the package, served at ``/``, and the few JSON endpoints
it needs beyond the public API (mounted at ``/viewer/v1``).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from rastercat.api.deps import PrincipalDep, StateDep
from rastercat.api.state import AppState
from rastercat.catalog.viewer import recent_uploads
from rastercat.errors import NotFound
from rastercat.raster.colormaps import named_colormap

router = APIRouter()
STATIC_PACKAGE = ("rastercat", "viewer/static")
LOOPBACK = {"127.0.0.1", "::1"}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "[::1]"}


def _static_dir() -> Any:
    from importlib.resources import files

    return files(STATIC_PACKAGE[0]).joinpath(STATIC_PACKAGE[1])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    # The viewer's HTML is never cached, so a new release's app.js is picked up at once.
    return FileResponse(
        str(_static_dir().joinpath("index.html")), headers={"Cache-Control": "no-cache"}
    )


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    # Browsers ask for it on every page load; without it the console shows a 404.
    return FileResponse(
        str(_static_dir().joinpath("favicon.ico")),
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400"},
    )


@router.get("/viewer", include_in_schema=False)
def viewer_alias() -> RedirectResponse:
    return RedirectResponse("/")


PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto",
                 "x-real-ip", "via")  # fmt: skip
"""Headers a reverse proxy adds: a request carrying any of them speaks for someone else."""


def is_local_request(request: Request) -> bool:
    """A request made on this machine to a loopback name: not proxied, not DNS-rebound."""
    client = request.client.host if request.client else None
    if client not in LOOPBACK:
        return False
    if any(request.headers.get(h) is not None for h in PROXY_HEADERS):
        return False  # a reverse proxy on this machine speaks for remote users
    host = (request.headers.get("host") or "").lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name in LOCAL_HOSTS


def local_signin_offered(request: Request, state: AppState) -> bool:
    """One rule for ``/viewer/v1/local-token`` and ``/viewer/v1/config``: sign-in is on
    (``local_signin``), the request is local and unproxied, and the credentials file exists."""
    path = state.settings.data_dir / "local-credentials.json"
    return state.settings.local_signin and is_local_request(request) and path.is_file()


@router.get("/viewer/v1/local-token")
def local_token(request: Request, state: StateDep) -> dict:
    """The local user's token, for a browser on the machine ``rastercat serve`` runs on; else 404.
    Only with ``local_signin`` on (``rastercat serve`` bound to a loopback address)."""
    path = state.settings.data_dir / "local-credentials.json"
    if not local_signin_offered(request, state):
        raise NotFound("no local sign-in here")
    try:
        token = json.loads(path.read_text())["token"]
    except (OSError, ValueError, KeyError, TypeError):
        raise NotFound("no local sign-in here") from None
    return {"token": token}


@router.get("/viewer/v1/uploads/recent")
def uploads_recent(state: StateDep, p: PrincipalDep, limit: int = 20) -> dict:
    return {"data": recent_uploads(state.metadata, p, limit)}


@router.get("/viewer/v1/config")
def viewer_config(request: Request, state: StateDep) -> dict:
    """What the page needs before signing in: whether ``/viewer/v1/local-token`` will answer (so
    the page does not ask for it, and log a 404, where it would not)."""
    return {"local_sign_in": local_signin_offered(request, state)}


@router.get("/viewer/v1/colormaps/{name}")
def colormap_table(name: str) -> dict:
    """The 256 ``[r, g, b, a]`` entries of a named colormap, exactly as tiles draw it (the
    viewer's legend)."""
    table = named_colormap(name)
    return {"name": name, "colors": [list(table[i]) for i in sorted(table)]}


def install_viewer(app: FastAPI) -> None:
    """The viewer's routes and its static files (Leaflet, app.js, css) at ``/viewer/static``."""
    app.include_router(router, tags=["viewer"])
    app.mount("/viewer/static", StaticFiles(packages=[STATIC_PACKAGE]), name="viewer-static")

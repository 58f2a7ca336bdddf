"""The app's routers are included busiest first (FastAPI walks them in order for every request):
that order can change which route answers a path only where two routers' routes match the same
path, so none may."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Match

from helpers import app_routes
from rastercat.api.app import create_app
from rastercat.config import Settings

SAMPLES = {"int": "1", "float": "1.5", "path": "x1/x2", "str": "x1"}


def _sample(path: str) -> str:
    """A concrete path for a route's template: each parameter a value of its converter (a path
    parameter two segments)."""
    return re.sub(r"\{[^}:]+(?::([a-z]+))?\}", lambda m: SAMPLES[m.group(1) or "str"], path)


def _routers(app) -> list[list[object]]:
    """The app's top-level entries (an included router, or a route of the app's own), each as
    the list of routes it holds, in the order FastAPI tries them."""
    return [app_routes(_OneEntry(entry)) for entry in app.router.routes]


class _OneEntry:
    def __init__(self, entry: object) -> None:
        self.routes = [entry]


def _matches(route: object, path: str, methods: set[str]) -> bool:
    for method in methods:
        scope = {"type": "http", "path": path, "method": method, "root_path": "",
                 "headers": [], "query_string": b""}  # fmt: skip
        match, _ = route.matches(scope)  # type: ignore[attr-defined]
        if match == Match.FULL:
            return True
    return False


def test_no_path_matches_routes_of_two_routers(tmp_path: Path) -> None:
    routers = _routers(create_app(Settings(data_dir=tmp_path, start_workers=False)))
    assert sum(len(r) for r in routers) > 80
    clashes = []
    for i, own in enumerate(routers):
        for route in own:
            path, methods = getattr(route, "path", None), getattr(route, "methods", None)
            if not path or not methods:
                continue
            sample = _sample(path)
            assert _matches(route, sample, methods), f"{path}: its sample {sample} does not match"
            for j, other in enumerate(routers):
                if j != i and any(_matches(r, sample, methods - {"HEAD"}) for r in other):
                    clashes.append(f"{sorted(methods)} {path} also matches router #{j}")
    assert not clashes, clashes


def test_searches_tiles_and_stac_are_tried_first(tmp_path: Path) -> None:
    """What a viewer and a search client send most is found before the catalog's routes."""
    routers = _routers(create_app(Settings(data_dir=tmp_path, start_workers=False)))
    first = {}
    for i, routes in enumerate(routers):
        for route in routes:
            first.setdefault(getattr(route, "path", None), i)
    catalog = first["/metadata/v1/catalog/products/{pid}"]
    for path in ("/metadata/v1/search", "/stac/v1/search",
                 "/tiles/v1/products/{pid:path}/{z:int}/{x:int}/{y:int}.{fmt}", "/raster/v1/npz"):  # fmt: skip
        assert first[path] < catalog, path

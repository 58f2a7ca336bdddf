"""The access matrix: every role x every route x (product, band, image), each cell one request.

Roles: the owner, a writer, three readers (through a user, a group and an org principal), an
outsider, no token and an expired token. Routes: the catalog (products, bands, images, uploads,
upload results, deletion tasks), the metadata service (get, search, summary, batch, products,
bands), the raster service (npz, raster), tiles and tilejson, and the viewer's data.

Expected: readers read and get 403 on writes; writers also write, but get 403 on permission
changes and deletions; outsiders get 404 for anything named (never 403: no existence leak) and
never find the objects in lists or searches; no or an expired token is 401.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from _perm_world import (
    BLUE,
    CAT,
    META,
    ROLES,
    World,
    add_band,
    create_product,
    tiny_tif,
    upload_tif,
)


@dataclass
class Shared:
    """The product every cell looks at, with its band, images, upload and a deletion task."""

    world: World
    pid: str
    image: str  # ingested, with pixels
    meta_image: str  # metadata only
    band: str
    task: str

    @property
    def owner(self) -> httpx.Client:
        return self.world.clients["owner"]


@pytest.fixture(scope="module")
def shared(world: World, tmp_path_factory: pytest.TempPathFactory) -> Shared:
    owner = world.clients["owner"]
    pid = create_product(owner, f"matrix-{world.suffix}", **world.acl())
    band = add_band(owner, pid)
    upload_tif(owner, pid, tiny_tif(tmp_path_factory.mktemp("matrix")), acquired="2020-01-01")
    r = owner.post(f"{CAT}/products/{pid}/images", json={"id": "meta", "cloud_fraction": 0.5})
    assert r.status_code == 201, r.text
    doomed = create_product(owner, f"doomed-{world.suffix}", **world.acl())
    add_band(owner, doomed)
    r = owner.delete(f"{CAT}/products/{doomed}", params={"cascade": "True"})
    return Shared(world, pid, f"{pid}:img", f"{pid}:meta", band, r.json()["deletion_task"])


# The routes ------------------------------------------------------------------------------------
Setup = Callable[[Shared, str], dict[str, str]]
Present = Callable[[Any, Shared], bool]


@dataclass(frozen=True)
class Route:
    name: str
    kind: str  # read, write, own, list (200, filtered), mine (200, own things only), deleter
    method: str
    path: str  # str.format()ed with the Shared fields, the role, and what setup returns
    body: Any = None  # JSON, or a function of (shared, role)
    params: dict[str, str] = field(default_factory=dict)
    ok: int = 200
    setup: Setup | None = None
    present: Present | None = None


def _fresh_band(s: Shared, role: str) -> dict[str, str]:
    add_band(s.owner, s.pid, name=f"d-{role}")
    return {"target": f"d-{role}"}


def _fresh_image(s: Shared, role: str) -> dict[str, str]:
    r = s.owner.post(f"{CAT}/products/{s.pid}/images", json={"id": f"d-{role}"})
    assert r.status_code == 201, r.text
    return {"target": f"d-{role}"}


def _fresh_product(s: Shared, role: str) -> dict[str, str]:
    pid = create_product(s.owner, f"del-{role}-{s.world.suffix}", **s.world.acl())
    add_band(s.owner, pid)
    return {"target": pid}


def _acl_body(s: Shared, role: str) -> dict[str, Any]:
    return {"read": s.world.acl()["read"]}


def _ids(doc: Any) -> set[str]:
    return {x["id"] for x in doc}


ROUTES = [
    # products
    Route("get product", "read", "GET", "{cat}/products/{pid}"),
    Route("patch product", "write", "PATCH", "{cat}/products/{pid}", {"notes": "n"}),
    Route("put product", "write", "PUT", "{cat}/products/{pid}",
          {"title": "Shared", "description": "D"}),
    Route("share product", "own", "PATCH", "{cat}/products/{pid}", _acl_body),
    Route("set_global_permissions", "own", "PATCH", "{cat}/products/{pid}", {},
          params={"set_global_permissions": "true"}),
    Route("remove product", "own", "DELETE", "{cat}/products/{target}",
          params={"cascade": "True"}, setup=_fresh_product),
    Route("deletion status", "deleter", "GET", "{cat}/products/deletion_tasks/{task}"),
    # bands
    Route("add band", "write", "POST", "{cat}/products/{pid}/bands",
          lambda s, role: {**BLUE, "name": f"b-{role}"}, ok=201),
    Route("get band", "read", "GET", "{cat}/products/{pid}/bands/blue"),
    Route("get band by id", "read", "GET", "{cat}/products/{pid}/bands/{band}"),
    Route("patch band", "write", "PATCH", "{cat}/products/{pid}/bands/blue",
          {"description": "x"}),
    Route("put band", "write", "PUT", "{cat}/products/{pid}/bands/blue",
          {k: v for k, v in BLUE.items() if k != "name"}),
    Route("share band", "own", "PATCH", "{cat}/products/{pid}/bands/blue", _acl_body),
    Route("remove band", "own", "DELETE", "{cat}/products/{pid}/bands/{target}", ok=204,
          setup=_fresh_band),
    # images
    Route("add image", "write", "POST", "{cat}/products/{pid}/images",
          lambda s, role: {"id": f"i-{role}"}, ok=201),
    Route("get image", "read", "GET", "{cat}/products/{pid}/images/img"),
    Route("get image by id", "read", "GET", "{cat}/products/{pid}/images/{image}"),
    Route("patch image", "write", "PATCH", "{cat}/products/{pid}/images/img",
          {"cloud_fraction": 0.1}),
    Route("put image", "write", "PUT", "{cat}/products/{pid}/images/meta",
          {"cloud_fraction": 0.2}),
    Route("share image", "own", "PATCH", "{cat}/products/{pid}/images/img", _acl_body),
    Route("remove image", "own", "DELETE", "{cat}/products/{pid}/images/{target}", ok=204,
          setup=_fresh_image),
    # uploads and upload results
    Route("begin upload", "write", "POST", "{cat}/products/{pid}/images/upload/{role}.tif", {}),
    Route("upload results", "read", "POST", "{cat}/products/{pid}/uploads", {}),
    Route("upload result", "read", "GET", "{cat}/products/{pid}/uploads/img.tif"),
    # metadata
    Route("metadata get", "read", "GET", "{meta}/get/{image}"),
    Route("search by product", "list", "POST", "{meta}/search", lambda s, r: {"products": [s.pid]},
          present=lambda d, s: s.image in _ids(d)),
    Route("search everything", "list", "POST", "{meta}/search",
          {"limit": 10000, "start_datetime": "2019-12-31", "end_datetime": "2020-01-02"},
          present=lambda d, s: s.image in _ids(d)),
    Route("summary", "list", "POST", "{meta}/summary", lambda s, r: {"products": [s.pid]},
          present=lambda d, s: d["count"] > 0),
    Route("batch images", "list", "POST", "{meta}/batch/images",
          lambda s, r: {"ids": [s.image, s.meta_image]},
          present=lambda d, s: bool(_ids(d) & {s.image, s.meta_image})),
    Route("metadata products", "list", "GET", "{meta}/products",
          present=lambda d, s: s.pid in d),
    Route("metadata product", "read", "GET", "{meta}/products/{pid}"),
    Route("products search", "list", "POST", "{meta}/products/search", {},
          present=lambda d, s: s.pid in _ids(d)),
    Route("sources", "list", "GET", "{meta}/sources",
          present=lambda d, s: s.pid in {x["product"] for x in d}),
    Route("bands search", "list", "POST", "{meta}/bands/search", {},
          present=lambda d, s: s.band in _ids(d)),
    Route("bands of product", "read", "GET", "{meta}/bands/all/{pid}"),
    Route("bands of image", "read", "GET", "{meta}/bands/id/{image}"),
    Route("metadata band", "read", "GET", "{meta}/bands/{band}"),
    # pixels
    Route("raster npz", "read", "POST", "/raster/v1/npz",
          lambda s, r: {"ids": [s.image], "bands": ["blue"]}),
    Route("raster file", "read", "POST", "/raster/v1/raster",
          lambda s, r: {"ids": [s.image], "bands": ["blue"], "of": "GTiff"}),
    # the middle of tiny_tif's image (UTM 43N)
    Route("point values", "read", "GET", "/raster/v1/point",
          params={"lon": "73.47172", "lat": "50.50854", "products": "{pid}"},
          present=lambda d, s: [x["image_id"] for x in d["data"]] == [s.image]),
    # tiles and the viewer's data
    Route("image tile", "read", "GET", "/tiles/v1/images/{image}/0/0/0.png"),
    Route("product tile", "read", "GET", "/tiles/v1/products/{pid}/0/0/0.png"),
    Route("image tilejson", "read", "GET", "/tiles/v1/images/{image}/tilejson.json"),
    Route("product tilejson", "read", "GET", "/tiles/v1/products/{pid}/tilejson.json"),
    Route("viewer recent uploads", "mine", "GET", "/viewer/v1/uploads/recent",
          present=lambda d, s: (s.pid, "img.tif") in {
              (u["attributes"]["product_id"], u["id"]) for u in d["data"]}),
]  # fmt: skip


def expected(route: Route, role: str) -> int:
    if role in ("no_token", "expired"):
        return 401
    if route.kind in ("list", "mine"):
        return 200
    if route.kind == "deleter":  # a deletion task is seen by whoever deleted, only
        return 200 if role == "owner" else 404
    if role == "outsider":
        return 404
    if route.kind == "read":
        return route.ok
    allowed = ("owner", "writer") if route.kind == "write" else ("owner",)
    return route.ok if role in allowed else 403


def visible(route: Route, role: str) -> bool:
    return role == "owner" if route.kind == "mine" else role not in ("outsider",)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_access(shared: Shared, route: Route, role: str) -> None:
    extra = route.setup(shared, role) if route.setup else {}
    names = dict(cat=CAT, meta=META, pid=shared.pid, image=shared.image, band=shared.band,
                 task=shared.task, role=role, **extra)  # fmt: skip
    path = route.path.format(**names)
    params = {k: v.format(**names) for k, v in route.params.items()}
    body = route.body(shared, role) if callable(route.body) else route.body
    client = shared.world.clients[role]
    r = client.request(route.method, path, params=params, json=body)
    want = expected(route, role)
    assert r.status_code == want, f"{route.name} as {role}: {r.status_code} {r.text[:300]}"
    if want >= 400:
        # Refusals say nothing about the object beyond the id the caller already sent.
        assert "errors" in r.json()
    if route.present is not None and want == 200:
        assert route.present(r.json(), shared) == visible(route, role), (
            f"{route.name} as {role}: the shared objects are "
            f"{'missing' if visible(route, role) else 'leaked'}"
        )


def test_every_readable_route_of_the_app_is_in_the_matrix(live_server: Any) -> None:
    """A new route must join the matrix (or this list of routes without objects)."""
    without_objects = {
        "/health", "/whoami", "/", "/viewer", "/viewer/v1/local-token", "/uploads/{token}",
        "/favicon.ico", "/viewer/v1/config", "/viewer/v1/colormaps/{name}",
        "/metadata/v1/bands/derived/search", "/metadata/v1/bands/derived/{band_id}",
        "/raster/v1/dlkeys/from_latlon/{lat}/{lon}", "/raster/v1/dlkeys/from_shape",
        "/raster/v1/dlkeys/{key}",
        "/metadata/v1/catalog/core/products", "/metadata/v1/catalog/core/products/{pid}/bands",
        "/metadata/v1/catalog/core/products/{pid}/images",
    }  # fmt: skip
    covered = {
        (r.method, _norm(r.path.replace("{cat}", CAT).replace("{meta}", META))) for r in ROUTES
    }
    missing = []
    for r in live_server.app.routes:
        path = getattr(r, "path", "")
        if path in without_objects or path.startswith(("/docs", "/openapi", "/redoc")):
            continue
        for method in sorted(getattr(r, "methods", None) or ()):
            if method != "HEAD" and (method, _norm(path)) not in covered:
                missing.append(f"{method} {path}")
    assert not missing, f"routes missing from the access matrix: {missing}"


def _norm(path: str) -> str:
    """A path with every parameter (and the fixed sample names the matrix uses) as ``*``."""
    import re

    path = re.sub(r"\{[^}]+\}", "*", path)
    path = re.sub(r"/(blue|img|meta|img\.tif|\*\.tif)(?=/|$)", "/*", path)
    path = path.replace("/0/0/0.png", "/*/*/*.*")
    return path

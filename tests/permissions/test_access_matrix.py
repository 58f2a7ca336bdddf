"""The access matrix: every role x every route x (product, band, image), each cell one request.

Roles: the owner, a writer, three readers (through a user, a group and an org principal), an
outsider, no token and an expired token. Routes: the catalog (products, bands, images, uploads,
upload results, deletion tasks, bulk records, registration, resumable uploads), the metadata
service (get, search, summary, batch, products, bands), the raster service (npz, raster), tiles
and tilejson, the viewer's data and STAC (landing, collections, queryables, items, search).

Expected: readers read and get 403 on writes; writers also write, but get 403 on permission
changes and deletions; outsiders get 404 for anything named (never 403: no existence leak) and
never find the objects in lists or searches; no or an expired token is 401. Any signed-in user
may create a product. Routes authorised by a capability in the URL instead of the caller (the
session URL of a resumable upload, STAC's signed asset URLs) answer the holder of a valid URL
whoever sends it, and 403 to a forged one.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import httpx
import numpy as np
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

from helpers import app_routes, write_geotiff
from rastercat.catalog.multipart import CHECKSUM_HEADER
from rastercat.catalog.tokens import mint_upload_token
from rastercat.config import RegisterSettings

STAC = "/stac/v1"


@dataclass
class Shared:
    """The product every cell looks at, with its band, images, upload and a deletion task."""

    world: World
    pid: str
    image: str  # ingested, with pixels
    meta_image: str  # metadata only
    band: str
    task: str
    register_root: Path  # a folder the server may register files from
    extra_key: str  # an extra property of the ingested image (a STAC queryable)

    @property
    def owner(self) -> httpx.Client:
        return self.world.clients["owner"]


@pytest.fixture(scope="module")
def register_root(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder the world's server may register files from, while this module runs (the
    session's server allows none, and then registration is a 403 for everyone)."""
    settings = world.server.state.registrar.settings
    before = settings.registration
    root = tmp_path_factory.mktemp("register")
    settings.registration = RegisterSettings(roots=[root])
    try:
        yield root
    finally:
        settings.registration = before


@pytest.fixture(scope="module")
def shared(world: World, register_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Shared:
    owner = world.clients["owner"]
    pid = create_product(owner, f"matrix-{world.suffix}", **world.acl())
    band = add_band(owner, pid)
    upload_tif(owner, pid, tiny_tif(tmp_path_factory.mktemp("matrix")), acquired="2020-01-01")
    extra_key = f"pm_{world.suffix}"
    r = owner.patch(f"{CAT}/products/{pid}/images/img",
                    json={"extra_properties": {extra_key: "v"}})  # fmt: skip
    assert r.status_code == 200, r.text
    r = owner.post(f"{CAT}/products/{pid}/images", json={"id": "meta", "cloud_fraction": 0.5})
    assert r.status_code == 201, r.text
    doomed = create_product(owner, f"doomed-{world.suffix}", **world.acl())
    add_band(owner, doomed)
    r = owner.delete(f"{CAT}/products/{doomed}", params={"cascade": "True"})
    task = r.json()["deletion_task"]
    return Shared(world, pid, f"{pid}:img", f"{pid}:meta", band, task, register_root, extra_key)


# The routes ------------------------------------------------------------------------------------
Setup = Callable[[Shared, str], dict[str, str]]
Present = Callable[[Any, Shared], bool]


@dataclass(frozen=True)
class Route:
    name: str
    # read, write, own, list (200, filtered), mine (200, own things only), deleter, signed_in
    # (any valid token), public (anyone), capability (the URL is the permission: the holder of a
    # valid one, whoever sends it), forged (a capability URL not made by the server: 403)
    kind: str
    method: str
    path: str  # str.format()ed with the Shared fields, the role, and what setup returns
    body: Any = None  # JSON (bytes: the raw body), or a function of (shared, role)
    params: dict[str, str] = field(default_factory=dict)  # values str.format()ed like path
    headers: dict[str, str] = field(default_factory=dict)  # values str.format()ed like path
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


def _new_product(s: Shared, role: str) -> dict[str, Any]:
    return {"id": f"new-{role}-{s.world.suffix}", "title": "New", "description": "D"}


def _register_file(s: Shared, role: str) -> dict[str, str]:
    # 100 km east of the shared image: a converted copy never shows in its point values.
    data = np.arange(32 * 32, dtype="uint16").reshape(32, 32) + 1
    path = write_geotiff(s.register_root / f"reg-{role}.tif", data,
                         transform=(491395.0, 15.0, 0.0, 5596530.0, 0.0, -15.0))  # fmt: skip
    return {"href": str(path)}


def _child(doc: Any, s: Shared) -> bool:
    """Whether a STAC landing page links the shared product as a child."""
    end = f"/collections/{quote(s.pid, safe=':')}"
    return any(x["rel"] == "child" and x["href"].endswith(end) for x in doc["links"])


def _features(doc: Any) -> set[str]:
    return _ids(doc["features"])


# Resumable uploads: sessions the owner starts in the shared product. Their bytes are no image,
# so a completed session's ingest job fails and no image joins the product.
PART = b"not a tiff: the matrix only knocks on the session's doors\n" * 20
PART_SHA = base64.b64encode(hashlib.sha256(PART).digest()).decode()
_sessions = itertools.count()
FORGER = b"not the server's secret, yet as long as one"


def _multipart(s: Shared, role: str) -> dict[str, Any]:
    return {"multipart": {"size": len(PART), "part_size": 2**20}}


def _start_session(s: Shared, role: str) -> dict[str, Any]:
    name = f"s{next(_sessions)}-{role}.tif"
    r = s.owner.post(f"{CAT}/products/{s.pid}/images/multipart/{name}", json=_multipart(s, role))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _session(s: Shared, role: str) -> dict[str, str]:
    """A session the owner started: its token (the last part of the session URL)."""
    doc = _start_session(s, role)
    return {"token": urlsplit(doc["session_url"]).path.rsplit("/", 1)[-1], "part": "1"}


def _session_with_part(s: Shared, role: str) -> dict[str, str]:
    names = _session(s, role)
    r = s.owner.put(f"/uploads/multipart/{names['token']}/parts/1", content=PART,
                    headers={CHECKSUM_HEADER: PART_SHA})  # fmt: skip
    assert r.status_code == 200, r.text
    return names


def _forged_session(s: Shared, role: str) -> dict[str, str]:
    """A session token for a real upload of the owner's, signed with another secret."""
    uid = _start_session(s, role)["upload_uid"]
    return {"token": mint_upload_token(FORGER, uid, 3600), "part": "1"}


def _asset(kind: str, forge: str = "") -> Setup:
    """The query of the signed URL of the shared image's ``kind`` asset, from the owner's Item;
    ``forge``: ``tampered`` changes a digit of its signature, ``other kind`` signs the URL with
    the server's signature of the image's other asset."""

    def setup(s: Shared, role: str) -> dict[str, str]:
        r = s.owner.get(f"{STAC}/collections/{s.pid}/items/{s.image}")
        assert r.status_code == 200, r.text
        assets = r.json()["assets"]
        query = dict(parse_qsl(urlsplit(assets[kind]["href"]).query))
        sig = query["sig"]
        if forge == "tampered":
            sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        elif forge == "other kind":
            other = "thumbnail" if kind == "data" else "data"
            sig = dict(parse_qsl(urlsplit(assets[other]["href"]).query))["sig"]
        assert query["id"] == s.image
        return {"expires": query["expires"], "sig": sig}

    return setup


ASSET = {"id": "{image}", "expires": "{expires}", "sig": "{sig}"}


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
    # creating products, many images at once, registering files in place
    Route("create product", "signed_in", "POST", "{cat}/products", _new_product, ok=201),
    Route("bulk images", "write", "POST", "{cat}/products/{pid}/images/bulk",
          lambda s, role: {"data": [{"id": f"bulk-{role}"}, {"id": f"bulk-{role}-2"}]}, ok=201),
    Route("register file", "write", "POST", "{cat}/products/{pid}/images/register",
          lambda s, role: {"data": [{"href": str(s.register_root / f"reg-{role}.tif"),
                                     "id": f"reg-{role}"}]},
          setup=_register_file),
    # resumable uploads: step 1 needs write access; the session's routes take its URL instead
    Route("begin resumable upload", "write", "POST", "{cat}/products/{pid}/images/multipart/{key}",
          _multipart, ok=201, setup=lambda s, role: {"key": f"mp-{role}.tif"}),
    Route("resumable status", "capability", "GET", "/uploads/multipart/{token}",
          setup=_session, present=lambda d, s: (d["status"], d["parts"]) == ("UPLOADING", [])),
    Route("resumable part urls", "capability", "POST", "/uploads/multipart/{token}/urls",
          {"parts": [{"part_number": 1, "checksum_sha256": PART_SHA}]}, setup=_session,
          present=lambda d, s: [x["part_number"] for x in d["parts"]] == [1]),
    Route("resumable part", "capability", "PUT", "/uploads/multipart/{token}/parts/{part}", PART,
          headers={CHECKSUM_HEADER: PART_SHA}, setup=_session,
          present=lambda d, s: (d["part_number"], d["size"]) == (1, len(PART))),
    Route("resumable complete", "capability", "POST", "/uploads/multipart/{token}/complete",
          {"sha256": hashlib.sha256(PART).hexdigest()}, setup=_session_with_part,
          present=lambda d, s: d["status"] != "UPLOADING"),
    Route("resumable abort", "capability", "DELETE", "/uploads/multipart/{token}", ok=204,
          setup=_session),
    Route("forged resumable status", "forged", "GET", "/uploads/multipart/{token}",
          setup=_forged_session),
    Route("forged resumable part urls", "forged", "POST", "/uploads/multipart/{token}/urls",
          {"parts": [{"part_number": 1, "checksum_sha256": PART_SHA}]}, setup=_forged_session),
    Route("forged resumable part", "forged", "PUT", "/uploads/multipart/{token}/parts/{part}",
          PART, headers={CHECKSUM_HEADER: PART_SHA}, setup=_forged_session),
    Route("forged resumable complete", "forged", "POST", "/uploads/multipart/{token}/complete",
          {"sha256": hashlib.sha256(PART).hexdigest()}, setup=_forged_session),
    Route("forged resumable abort", "forged", "DELETE", "/uploads/multipart/{token}",
          setup=_forged_session),
    # STAC: products as Collections, images as Items
    Route("stac landing", "list", "GET", "{stac}/", present=_child),
    Route("stac landing bare", "list", "GET", "{stac}", present=_child),
    Route("stac openapi", "public", "GET", "{stac}/api"),
    Route("stac conformance", "signed_in", "GET", "{stac}/conformance"),
    Route("stac collections", "list", "GET", "{stac}/collections",
          present=lambda d, s: s.pid in _ids(d["collections"])),
    Route("stac collection", "read", "GET", "{stac}/collections/{pid}",
          present=lambda d, s: d["id"] == s.pid),
    Route("stac collection queryables", "read", "GET", "{stac}/collections/{pid}/queryables",
          present=lambda d, s: s.extra_key in d["properties"]),
    Route("stac queryables", "list", "GET", "{stac}/queryables",
          present=lambda d, s: s.extra_key in d["properties"]),
    Route("stac items", "read", "GET", "{stac}/collections/{pid}/items",
          params={"limit": "1000"}, present=lambda d, s: s.image in _features(d)),
    Route("stac item", "read", "GET", "{stac}/collections/{pid}/items/{image}",
          present=lambda d, s: d["id"] == s.image),
    Route("stac search get", "list", "GET", "{stac}/search", params={"ids": "{image}"},
          present=lambda d, s: _features(d) == {s.image}),
    Route("stac search post", "list", "POST", "{stac}/search",
          lambda s, r: {"ids": [s.image, s.meta_image]},
          present=lambda d, s: bool(_features(d) & {s.image, s.meta_image})),
    Route("stac data asset", "capability", "GET", "{stac}/assets/data.tif", params=ASSET,
          setup=_asset("data")),
    Route("stac thumbnail asset", "capability", "GET", "{stac}/assets/thumbnail.png",
          params=ASSET, setup=_asset("thumbnail")),
    Route("tampered stac data asset", "forged", "GET", "{stac}/assets/data.tif", params=ASSET,
          setup=_asset("data", "tampered")),
    Route("tampered stac thumbnail asset", "forged", "GET", "{stac}/assets/thumbnail.png",
          params=ASSET, setup=_asset("thumbnail", "tampered")),
    Route("stac data asset signed as thumbnail", "forged", "GET", "{stac}/assets/data.tif",
          params=ASSET, setup=_asset("data", "other kind")),
    Route("stac thumbnail asset signed as data", "forged", "GET", "{stac}/assets/thumbnail.png",
          params=ASSET, setup=_asset("thumbnail", "other kind")),
]  # fmt: skip


def expected(route: Route, role: str) -> int:
    if route.kind in ("public", "capability"):  # the caller's token is not asked for
        return route.ok
    if route.kind == "forged":
        return 403
    if role in ("no_token", "expired"):
        return 401
    if route.kind in ("list", "mine", "signed_in"):
        return route.ok
    if route.kind == "deleter":  # a deletion task is seen by whoever deleted, only
        return 200 if role == "owner" else 404
    if role == "outsider":
        return 404
    if route.kind == "read":
        return route.ok
    allowed = ("owner", "writer") if route.kind == "write" else ("owner",)
    return route.ok if role in allowed else 403


def visible(route: Route, role: str) -> bool:
    if route.kind == "capability":  # whoever holds the URL
        return True
    return role == "owner" if route.kind == "mine" else role not in ("outsider",)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
def test_access(shared: Shared, route: Route, role: str) -> None:
    extra = route.setup(shared, role) if route.setup else {}
    names = dict(cat=CAT, meta=META, stac=STAC, pid=shared.pid, image=shared.image,
                 band=shared.band, task=shared.task, role=role, **extra)  # fmt: skip
    path = route.path.format(**names)
    params = {k: v.format(**names) for k, v in route.params.items()}
    headers = {k: v.format(**names) for k, v in route.headers.items()}
    body = route.body(shared, role) if callable(route.body) else route.body
    client = shared.world.clients[role]
    if isinstance(body, bytes):
        r = client.request(route.method, path, params=params, headers=headers, content=body)
    else:
        r = client.request(route.method, path, params=params, headers=headers, json=body)
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
        (
            r.method,
            _norm(r.path.replace("{cat}", CAT).replace("{meta}", META).replace("{stac}", STAC)),
        )
        for r in ROUTES
    }
    missing, seen = [], 0
    for r in app_routes(live_server.app):
        path = getattr(r, "path", None) or ""
        seen += 1
        if path in without_objects or path.startswith(("/docs", "/openapi", "/redoc")):
            continue
        for method in sorted(getattr(r, "methods", None) or ()):
            if method != "HEAD" and (method, _norm(path)) not in covered:
                missing.append(f"{method} {path}")
    assert seen > 80  # the routers' routes, not only the app's own few
    assert not missing, f"routes missing from the access matrix: {missing}"


def _norm(path: str) -> str:
    """A path with every parameter (and the fixed sample names the matrix uses) as ``*``."""
    import re

    path = re.sub(r"\{[^}]+\}", "*", path)
    path = re.sub(r"/(blue|img|meta|img\.tif|\*\.tif)(?=/|$)", "/*", path)
    path = path.replace("/0/0/0.png", "/*/*/*.*")
    return path

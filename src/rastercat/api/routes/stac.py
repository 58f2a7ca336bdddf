"""STAC API 1.0 routes, mounted at ``/stac/v1``: products as Collections, images as Items.

Thin: requests are parsed by :mod:`rastercat.protocol.stac.requests`, searches run in
:mod:`rastercat.catalog.stac_search` (the Metadata search machinery), documents are shaped by
:mod:`rastercat.protocol.stac`. Every route takes the caller's token like the rest of the API, and
shows only what the Metadata API would; the asset routes instead take a signed URL (GDAL sends no
header), checked by :class:`rastercat.catalog.asset_urls.AssetSigner`.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Request, Response
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse

from rastercat.api.deps import PrincipalDep, StateDep, read_as_caller
from rastercat.api.responses import FastJSONResponse
from rastercat.api.routes.uploads import public_base
from rastercat.catalog.asset_urls import AssetSigner, presign_get, presigns
from rastercat.catalog.principal import Principal
from rastercat.catalog.stac_collections import BandCache, StacCollections
from rastercat.catalog.stac_search import StacSearch
from rastercat.errors import NotFound
from rastercat.protocol.stac import documents as docs
from rastercat.protocol.stac import requests as req
from rastercat.protocol.stac.items import AssetHrefs, item
from rastercat.protocol.stac.links import (
    GEOJSON,
    PAGE,
    Links,
    next_link_get,
    next_link_post,
    quote_plus_id,
)

router = APIRouter()
AnyBody = Body(default_factory=dict)
PREFIX = "/stac/v1"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"


def _geojson(content: Any) -> JSONResponse:
    return FastJSONResponse(content, media_type=GEOJSON)


def _links(request: Request, state: Any) -> Links:
    return Links(public_base(request, state.settings.public_url) + PREFIX)


def _signer(state: Any) -> AssetSigner:
    return AssetSigner(state.secret, state.settings.stac.asset_url_ttl)


def _signed(params: dict[str, str]) -> str:
    """``urlencode`` of a signature's parameters; only the id needs quoting (``expires`` is
    digits, ``sig`` hex), and two URLs per Item made urlencode a visible part of a page."""
    return f"id={quote_plus_id(params['id'])}&expires={params['expires']}&sig={params['sig']}"


def _hrefs(links: Links, state: Any) -> AssetHrefs:
    signer, objects = _signer(state), state.objects
    presigned = presigns(objects)
    data_url = links.url("/assets/data.tif") + "?"
    thumbnail_url = links.url("/assets/thumbnail.png") + "?"

    def data(row: dict[str, Any]) -> str | None:
        if presigned:
            s3 = presign_get(objects, row["storage_key"], signer.ttl)
            if s3 is not None:
                return s3
        return data_url + _signed(signer.sign("data", row["id"], row["storage_key"]))

    def thumbnail(row: dict[str, Any]) -> str | None:
        if not row["attrs"].get("wkt"):
            return None
        query = signer.sign("thumbnail", row["id"], row["storage_key"])
        return thumbnail_url + _signed(query)

    return AssetHrefs(data=data, thumbnail=thumbnail)


def _band_cache(state: Any) -> BandCache:
    return state.stac_bands


class _Pages:
    """Items of a page of image rows, with their products' bands looked up once."""

    def __init__(self, request: Request, state: Any) -> None:
        self.metadata = state.metadata
        self.collections = StacCollections(self.metadata, _band_cache(state))
        self.links = _links(request, state)
        self.hrefs = _hrefs(self.links, state)
        self.settings = state.settings.stac

    def items(self, rows: list[dict[str, Any]], fields: req.Fields) -> list[dict[str, Any]]:
        # Bands only serve the assets: rows without a file need none.
        uids = sorted({r["product_uid"] for r in rows if r.get("storage_key")})
        bands = self.collections.bands([{"uid": u} for u in uids], cached=True)
        return [fields.apply(item(r, bands.get(r["product_uid"], []), self.links, self.hrefs))
                for r in rows]  # fmt: skip

    def search(
        self, p: Principal, parsed: req.SearchRequest
    ) -> tuple[list[dict[str, Any]], str | None]:
        rows, token = StacSearch(self.metadata).search(p, parsed.query)
        return self.items(rows, parsed.fields), token

    def collection(self, product: dict[str, Any]) -> dict[str, Any]:
        bands = self.collections.bands([product]).get(product["uid"], [])
        extent = self.collections.extents([product]).get(product["uid"], {})
        return docs.collection(product, bands, extent, self.links, self.settings.license)


def _get_params(request: Request) -> dict[str, Any]:
    # Everything the caller sent, less the page token: the next link sets its own.
    return {k: v for k, v in request.query_params.items() if k != PAGE}


# landing, conformance, collections ---------------------------------------------------------------
@router.get("")
@router.get("/")
def landing(request: Request, state: StateDep, p: PrincipalDep) -> dict:
    pages = _Pages(request, state)
    base = public_base(request, state.settings.public_url)
    ids = [r["id"] for r in pages.collections.products(p)]
    s = state.settings.stac
    openapi = pages.links.url("/api")
    docs_url = base + (request.app.docs_url or "/docs")
    return docs.landing(pages.links, s.title, s.description, openapi, docs_url, ids)


@router.get("/api", include_in_schema=False)
def openapi(request: Request) -> JSONResponse:
    """The app's OpenAPI document, with the media type STAC clients ask for (``service-desc``);
    public, like ``/openapi.json`` itself."""
    return JSONResponse(request.app.openapi(), media_type=OPENAPI)


@router.get("/conformance")
def conformance(p: PrincipalDep) -> dict:
    return {"conformsTo": docs.CONFORMANCE}


@router.get("/collections")
def collections(request: Request, state: StateDep, p: PrincipalDep) -> dict:
    pages = _Pages(request, state)
    products = pages.collections.products(p)
    bands = pages.collections.bands(products)
    extents = pages.collections.extents(products)
    out = [docs.collection(r, bands.get(r["uid"], []), extents.get(r["uid"], {}), pages.links,
                           pages.settings.license) for r in products]  # fmt: skip
    return docs.collections(out, pages.links)


@router.get("/collections/{cid}")
def collection(request: Request, state: StateDep, p: PrincipalDep, cid: str) -> dict:
    pages = _Pages(request, state)
    return pages.collection(pages.collections.product(p, cid))


@router.get("/collections/{cid}/queryables")
def collection_queryables(
    request: Request, state: StateDep, p: PrincipalDep, cid: str
) -> JSONResponse:
    pages = _Pages(request, state)
    product = pages.collections.product(p, cid)
    extra = pages.collections.extra_property_types([product])
    body = docs.queryables(pages.links.collection(cid) + "/queryables", extra, f"items of {cid}")
    return JSONResponse(body, media_type="application/schema+json")


@router.get("/queryables")
def queryables(request: Request, state: StateDep, p: PrincipalDep) -> JSONResponse:
    pages = _Pages(request, state)
    extra = pages.collections.extra_property_types(pages.collections.products(p))
    body = docs.queryables(pages.links.url("/queryables"), extra)
    return JSONResponse(body, media_type="application/schema+json")


# items and search --------------------------------------------------------------------------------
def _page(pages: _Pages, features: list[dict[str, Any]], self_url: str,
          next_link: dict[str, Any] | None, extra: list[dict[str, Any]]) -> JSONResponse:  # fmt: skip
    links = [Links.link("self", self_url, GEOJSON), Links.link("root", pages.links.root(), "application/json"),
             *extra]  # fmt: skip
    if next_link is not None:
        links.append(next_link)
    return _geojson(docs.item_collection(features, links))


@router.get("/collections/{cid}/items")
async def collection_items(request: Request, state: StateDep, cid: str) -> JSONResponse:
    def page(p: Principal) -> JSONResponse:
        pages = _Pages(request, state)
        pages.collections.product(p, cid)  # 404 for a product the caller may not read
        params = _get_params(request)
        parsed = req.parse_get(request.query_params, pages.settings.default_limit,
                               pages.settings.max_limit, collections=[cid])  # fmt: skip
        features, token = pages.search(p, parsed)
        path = f"/collections/{pages.links.collection(cid).rsplit('/', 1)[-1]}/items"
        nxt = next_link_get(pages.links, path, params, token) if token else None
        parent = Links.link("collection", pages.links.collection(cid), "application/json")
        return _page(pages, features, str(request.url), nxt, [parent])

    return await read_as_caller(request, page)


@router.get("/collections/{cid}/items/{iid}")
def collection_item(
    request: Request, state: StateDep, p: PrincipalDep, cid: str, iid: str
) -> JSONResponse:
    pages = _Pages(request, state)
    row = pages.metadata.get_image(p, iid)
    if row["product_id"] != cid:
        raise NotFound(f"item {iid!r} not found in collection {cid!r}")
    return _geojson(pages.items([row], req.Fields())[0])


@router.get("/search")
async def search_get(request: Request, state: StateDep) -> JSONResponse:
    def page(p: Principal) -> JSONResponse:
        pages = _Pages(request, state)
        params = _get_params(request)
        parsed = req.parse_get(
            request.query_params, pages.settings.default_limit, pages.settings.max_limit
        )
        features, token = pages.search(p, parsed)
        nxt = next_link_get(pages.links, "/search", params, token) if token else None
        return _page(pages, features, str(request.url), nxt, [])

    return await read_as_caller(request, page, remembered=True)


@router.post("/search")
async def search_post(request: Request, state: StateDep, body: Any = AnyBody) -> JSONResponse:
    def page(p: Principal) -> JSONResponse:
        pages = _Pages(request, state)
        parsed = req.parse_post(body, pages.settings.default_limit, pages.settings.max_limit)
        features, token = pages.search(p, parsed)
        nxt = next_link_post(pages.links, "/search", body, token) if token else None
        return _page(pages, features, pages.links.url("/search"), nxt, [])

    return await read_as_caller(request, page, remembered=True)


# signed assets -----------------------------------------------------------------------------------
@router.get("/assets/data.tif", operation_id="stac_asset_data")
@router.head("/assets/data.tif", operation_id="stac_asset_data_head")
def asset_data(state: StateDep, id: str, expires: str, sig: str) -> Response:
    row = _signer(state).verify(state.repo, "data", id, expires, sig)
    objects = state.objects
    s3 = presign_get(objects, row["storage_key"], 300)
    if s3 is not None:
        return RedirectResponse(s3, status_code=307)
    return FileResponse(objects.gdal_path(row["storage_key"]), media_type="image/tiff",
                        headers={"Cache-Control": "private, max-age=300"})  # fmt: skip


@router.get("/assets/thumbnail.png", operation_id="stac_asset_thumbnail")
@router.head("/assets/thumbnail.png", operation_id="stac_asset_thumbnail_head")
def asset_thumbnail(state: StateDep, id: str, expires: str, sig: str) -> Response:
    from rastercat.catalog.sources import band_info, source_image
    from rastercat.raster.thumbnail import render_thumbnail

    row = _signer(state).verify(state.repo, "thumbnail", id, expires, sig)
    objects = state.objects
    band_rows = state.catalog.bands.of_product(None, row["product_uid"])
    if not band_rows or not row["attrs"].get("wkt"):
        raise NotFound("this image has no pixels to draw")
    png = render_thumbnail(source_image(row, objects), [band_info(b) for b in band_rows])
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})

"""The Metadata service's use-cases: search, summary, and lookups of images, products and bands.

Search narrows candidates in the store (products, date, and a spatial index: an R*Tree over lon,
lat and acquisition time on SQLite), then checks exactly in Python (polygon intersection, property
filters, and the caller's read permission), streaming rows in batches. The store's side is
:class:`rastercat.store.read_ports.CatalogReads` (SQL: :mod:`rastercat.store.sql.search`).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

import shapely
import shapely.prepared
from shapely.geometry import shape

from rastercat.catalog.access import can_read, can_read_joined, listed_owner
from rastercat.catalog.principal import Principal
from rastercat.catalog.query import compile_expr, finite_number
from rastercat.catalog.search_rows import bbox_inside, flat, inner_box
from rastercat.errors import InvalidInput, NotFound
from rastercat.protocol.dl017 import continuation
from rastercat.protocol.dl017.continuation import Position, bounded_list, count
from rastercat.protocol.geometry import parse_geom
from rastercat.protocol.validation import optional_string, parse_datetime, string_list
from rastercat.store.read_ports import Area, CatalogReads, ImageFilter, ImageOrder
from rastercat.store.sql.repo import Repo
from rastercat.store.sql.search import SqlCatalogReads

Candidates = tuple[ImageFilter, Any, dict[str, Any]]
"""What a search body makes: the store's filter, the exact geometry and the Python-side checks."""
Readers = tuple[bool, frozenset[str]]
"""A caller as the read rule sees it: admin or not, and the names it answers to."""
Readable = tuple[dict[str, str], frozenset[str]]
"""The products a caller may read: id to uid, and the uids."""
MAX_LISTED_BY_ID = 2_000
"""Above this many readable products a listing reads every product instead of naming each."""
MAX_CALLERS_KEPT = 4096
"""Callers whose readable products are kept per version of the products (then all are dropped)."""

MAX_PAGE = 10_000
BATCH = 2_000
"""Rows read from SQL at a time while streaming matches."""
FIRST_BATCH = 64
"""The smallest first batch of a search page (exact checks may drop a few candidates)."""


def _ts(value: Any, name: str) -> float | None:
    iso = parse_datetime(value, name)
    return None if iso is None else datetime.fromisoformat(iso).timestamp()


def batch_sizes(wanted: int | None) -> Iterator[int]:
    """Rows to read from the store per batch: the first sized for what the caller expects to take
    (so a page of 100 does not decode thousands of rows) and a tenth more for the candidates the
    exact checks drop (a footprint beside the area, an image shared more narrowly than its
    product), then growing. Every row read costs its decoding: a quarter more was ~0.3 ms of a
    world-wide search for a page of 100."""
    size = BATCH if wanted is None else min(BATCH, max(FIRST_BATCH, wanted + wanted // 10))
    while True:
        yield size
        size = min(BATCH, size * 4)


def search_order(body: dict[str, Any]) -> ImageOrder:
    """The order a search body asks for (date order unless a property or a random seed)."""
    sort_field = body.get("sort_field")
    desc = body.get("sort_order") == "desc"
    if body.get("random_seed"):
        return ImageOrder(desc=desc, seed=body["random_seed"])
    if sort_field in (None, "acquired"):
        return ImageOrder(desc=desc)
    return ImageOrder(desc=desc, field=str(sort_field))


class MetadataService:
    def __init__(self, repo: Repo, reads: CatalogReads | None = None) -> None:
        self.repo = repo
        self.reads: CatalogReads = reads if reads is not None else SqlCatalogReads(repo)
        self._readable_at: tuple[int, dict[Readers, Readable]] = (-1, {})

    def _readable(self, p: Principal) -> Readable:
        """The products ``p`` may read (id to uid) and their uids, worked out once per caller
        and version of the products: a search costs the same whatever the catalog's number of
        products (checking each one's ACL took ~9 ms per 1,000 products, readable or not)."""
        acls = self.reads.product_acls()
        version, known = self._readable_at
        if version != acls.version:
            known = {}
            self._readable_at = (acls.version, known)
        key = (p.is_admin, p.principals)
        found = known.get(key)
        if found is None:
            ids = {r["id"]: r["uid"] for r in acls.rows if can_read(p, r)}
            found = (ids, frozenset(ids.values()))
            if len(known) >= MAX_CALLERS_KEPT:
                known.clear()
            known[key] = found
        return found

    # products & bands --------------------------------------------------------------------------
    def readable_products(self, p: Principal) -> list[dict[str, Any]]:
        """The products ``p`` may read, by id: those the kept ACLs name (:meth:`_readable`), read
        by id, so a caller's list costs what it holds rather than the whole catalog; each row is
        checked again as read. An admin, or a caller of very many, reads them all."""
        ids, _ = self._readable(p)
        if p.is_admin or len(ids) > MAX_LISTED_BY_ID:
            rows = self.reads.products()
        else:
            rows = self.reads.products(sorted(ids)) if ids else []
        return [r for r in rows if can_read(p, r)]

    def readable_uids(self, p: Principal) -> frozenset[str]:
        """The uids of the products ``p`` may read (kept per caller and version of the products)."""
        return self._readable(p)[1]

    def get_product(self, p: Principal, pid: str) -> dict[str, Any]:
        row = self.reads.product(pid)
        if row is None or not can_read(p, row):
            raise NotFound(f"product {pid!r} not found")
        return row

    def search_products(self, p: Principal, body: dict[str, Any]) -> list[dict[str, Any]]:
        rows = self.readable_products(p)
        owner = body.get("owner")
        if owner:
            rows = [r for r in rows if listed_owner(r, owner, by_name=True)]
        text = body.get("text")
        if text:
            needle = str(text).lower()
            rows = [
                r for r in rows
                if needle in r["id"].lower()
                or needle in str(r["attrs"].get("title", "")).lower()
                or needle in str(r["attrs"].get("description", "")).lower()
            ]  # fmt: skip
        wanted = body.get("bands")
        if wanted:
            wanted = bounded_list(string_list(wanted, "bands", "a band name"), "bands")
            have: dict[str, set[str]] = {}
            for b in self.reads.bands_of([r["uid"] for r in rows]):
                have.setdefault(b["product_uid"], set()).add(b["name"])
            rows = [r for r in rows if set(wanted) <= have.get(r["uid"], set())]
        return self._window(rows, body)

    def _window(self, rows: list[Any], body: dict[str, Any]) -> list[Any]:
        offset = count(body.get("offset"), "offset")
        limit = body.get("limit")
        if limit is not None:
            limit = count(limit, "limit")
        return rows[offset : None if limit is None else offset + limit]

    def _readable_bands(
        self, p: Principal, *, product_ids: list[str] | None = None, band_id: str | None = None
    ) -> list[dict[str, Any]]:
        rows = self.reads.bands_with_product_acl(product_ids=product_ids, band_id=band_id)
        return [r for r in rows if can_read_joined(p, r)]

    def search_bands(self, p: Principal, body: dict[str, Any]) -> list[dict[str, Any]]:
        product_ids = None
        products = body.get("products")
        if products:
            product_ids = bounded_list(
                string_list(products, "products", "a product id"), "products"
            )
        rows = self._readable_bands(p, product_ids=product_ids)
        owner = body.get("owner")
        if owner:
            rows = [r for r in rows if listed_owner(r, owner)]
        return self._window(rows, body)

    def bands_of_product(self, p: Principal, pid: str) -> list[dict[str, Any]]:
        self.get_product(p, pid)
        return self._readable_bands(p, product_ids=[pid])

    def get_band(self, p: Principal, band_id: str) -> dict[str, Any]:
        rows = self._readable_bands(p, band_id=band_id)
        if not rows:
            raise NotFound(f"band {band_id!r} not found")
        return rows[0]

    # images ------------------------------------------------------------------------------------
    def get_image(self, p: Principal, image_id: str) -> dict[str, Any]:
        rows = self.reads.images_with_product_acl([image_id])
        if not rows or not can_read_joined(p, rows[0]):
            raise NotFound(f"image {image_id!r} not found")
        return rows[0]

    def get_images(
        self, p: Principal, ids: list[str], ignore_not_found: bool
    ) -> list[dict[str, Any]]:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InvalidInput("'ids' must be a list of image ids", field="ids")
        bounded_list(ids, "ids")
        found = {
            r["id"]: r for r in self.reads.images_with_product_acl(ids) if can_read_joined(p, r)
        }
        missing = [i for i in ids if i not in found]
        if missing and not ignore_not_found:
            raise NotFound(f"image(s) not found: {', '.join(missing[:10])}")
        return [found[i] for i in ids if i in found]

    # search ------------------------------------------------------------------------------------
    def candidates(self, p: Principal, body: dict[str, Any]) -> Candidates:
        """The store's filter, the exact geometry and the python-side filters of a search body."""
        # Every value is checked before any work: the database is read last, for the products
        # the caller may read. Asked-for products narrow the SQL; otherwise the set is checked
        # per row (a product clause on every query would steer SQLite's planner away from the
        # spatial index). Either way only the image's own permissions remain to check.
        products = body.get("products") or body.get("product")
        if products:
            products = bounded_list(string_list(products, "products", "a product id"), "products")
        date_field = optional_string(body.get("date"), "date") or "acquired"
        start = _ts(body.get("start_datetime") or body.get("start_time"), "start_datetime")
        end = _ts(body.get("end_datetime") or body.get("end_time"), "end_datetime")
        if start is not None and end is not None and start > end:
            raise InvalidInput("'start_datetime' is after 'end_datetime'", field="start_datetime")
        geom = parse_geom(body.get("geom"))
        timed = date_field == "acquired"
        area = None
        if geom is not None:
            area = Area(geom.bounds, start if timed else None, end if timed else None)
        preds = _predicates(body)
        pred = compile_expr({"and": preds}) if preds else None
        readable, every_uid = self._readable(p)
        asked: tuple[str, ...] | None = None
        uids: frozenset[str]
        if products:
            uids = frozenset(readable[x] for x in products if x in readable)
            asked = tuple(sorted(uids))
        else:
            uids = every_uid
        post: dict[str, Any] = {
            "products": uids,
            "geom": geom,
            "prepared": shapely.prepared.prep(geom) if geom is not None else None,
            # A bbox inside this box is inside the area: no shapely call for it (bbox_inside).
            "inner_box": inner_box(geom),
            "date_field": date_field if date_field != "acquired" else None,
            "start": start,
            "end": end,
        }
        post["pred"] = pred
        where = ImageFilter(
            product_uids=asked,
            acquired_from=start if timed else None,
            acquired_to=end if timed else None,
            area=area,
            attrs={"and": preds} if preds else None,
        )
        return where, geom, post

    def _matches(self, p: Principal, row: dict[str, Any], post: dict[str, Any]) -> bool:
        if row["product_uid"] not in post["products"] or not can_read(p, row):
            return False
        attrs = None
        if post["date_field"]:
            attrs = flat(row)
            value = attrs.get(post["date_field"])
            if value is None:
                return False
            try:
                when = _ts(value, post["date_field"])
            except InvalidInput:
                return False
            if (
                when is None
                or (post["start"] is not None and when < post["start"])
                or (post["end"] is not None and when > post["end"])
            ):
                return False
        if post["geom"] is not None:
            g = row["attrs"].get("geometry")
            if not g:
                return False
            if not bbox_inside(row, post["inner_box"], post["prepared"]) and not post[
                "prepared"
            ].intersects(shape(g)):
                return False
        pred = post["pred"]
        return pred is None or pred(attrs if attrs is not None else flat(row))

    def iter_matches(
        self,
        p: Principal,
        body: dict[str, Any],
        wanted: int | None = None,
        after: Position | None = None,
        candidates: Candidates | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every image the search body matches, in order. ``wanted``: how many the caller expects
        to take; the first batch read from the store is sized for it (then batches grow). In
        date order (the default) batches continue from the last row read (keyset), so reading
        far into the results costs no more per row than reading the start; ``after`` starts
        there. ``candidates``: what ``candidates`` made of the body, when the caller has it
        already."""
        where, _, post = candidates or self.candidates(p, body)
        order = search_order(body)
        page = math.inf if wanted is None else float(wanted)
        batches = self.reads.image_batches(
            where, order, batch_sizes(wanted), after=after if order.by_date else None, page=page
        )
        for rows in batches:
            for row in rows:
                if self._matches(p, row, post):
                    yield row

    def search(self, p: Principal, body: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
        limit = count(body.get("limit"), "limit", default=100, maximum=MAX_PAGE)
        order = body.get("sort_order") or "asc"
        if order not in ("asc", "desc"):
            raise InvalidInput("'sort_order' must be 'asc' or 'desc'", field="sort_order")
        query_hash = hashlib.sha1(
            json.dumps(
                {k: v for k, v in body.items() if k != "continuation_token"},
                sort_keys=True,
                default=str,
            ).encode()  # fmt: skip
        ).hexdigest()[:16]
        offset, position = count(body.get("offset"), "offset"), None
        sort_field = body.get("sort_field")
        if sort_field is not None and not isinstance(sort_field, str):
            raise InvalidInput("'sort_field' must be a property name", field="sort_field")
        if body.get("continuation_token"):
            offset, position = continuation.decode(body["continuation_token"], query_hash)
        seed = body.get("random_seed")
        page = []
        matches = self.iter_matches(p, body, wanted=offset + limit + 1, after=position)
        for i, row in enumerate(matches):
            if i >= offset:
                page.append(row)
            if len(page) > limit:
                break
        if len(page) <= limit:
            return page, None
        if seed or body.get("sort_field") not in (None, "acquired") or limit == 0:
            return page[:limit], continuation.encode(query_hash, offset=offset + limit)
        last = page[limit - 1]
        return page[:limit], continuation.encode(query_hash, after=(last["acquired"], last["pk"]))

    def summary(
        self, p: Principal, body: dict[str, Any], in_sql: bool | None = None
    ) -> dict[str, Any]:
        """Counts, bytes, pixels and products of what a search matches (protocol §3.4).

        When every condition of the search is SQL (no area, no property filter, dates on
        ``acquired``), the database computes each image's numbers (``in_sql``; None: whenever
        possible); otherwise the matching rows are read and checked in Python."""
        from rastercat.catalog.summary import row_facts, summarize, time_unit

        unit = time_unit(body)  # a bad interval is refused before any row is read
        candidates = self.candidates(p, body)
        where, geom, post = candidates
        sql_only = geom is None and post["pred"] is None and post["date_field"] is None
        if in_sql is None:
            in_sql = sql_only
        elif in_sql and not sql_only:
            raise ValueError("this search has conditions only Python can check")
        if in_sql:
            # Only readable products: the asked-for ones (all readable), else every readable one.
            if where.product_uids is None:
                where = replace(where, product_uids=tuple(sorted(post["products"])))
            facts = self.reads.summary_facts(where, p, unit, pixels=bool(body.get("pixels")))
        else:
            rows = self.iter_matches(p, body, candidates=candidates)
            facts = row_facts(rows, post["date_field"] or "acquired")
        return summarize(facts, body)


def _predicates(body: dict[str, Any]) -> list[Any]:
    """The search body's property conditions, checked, as one ``query_expr`` list."""
    preds: list[Any] = []
    for key, op in (
        ("cloud_fraction", "lte"),
        ("cloud_fraction_0", "lte"),
        ("fill_fraction", "gte"),
    ):
        if body.get(key) is not None:
            preds.append({"range": {key: {op: finite_number(body[key], key)}}})
    sat_ids = body.get("sat_ids") or body.get("sat_id")
    if sat_ids:
        preds.append(
            {
                "in": {
                    "sat_id": bounded_list(
                        string_list(sat_ids, "sat_ids", "a satellite id"), "sat_ids"
                    )
                }
            }
        )
    if body.get("query_expr"):
        preds.append(body["query_expr"])
    return preds

"""The Metadata service's use-cases: search, summary, and lookups of images, products and bands.

Search narrows candidates in SQL (products, date, and a spatial index: an R*Tree over lon, lat and
acquisition time on SQLite), then checks exactly in Python (polygon intersection, property filters,
and the caller's read permission), streaming rows in batches.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import shapely
import shapely.prepared
import sqlalchemy as sa
from shapely.geometry import shape

from rastercat.catalog.principal import Principal, can_read, can_read_within, namespace_of
from rastercat.catalog.query import compile_expr, finite_number, sql_prefilter
from rastercat.catalog.query_geometry import parse_geom
from rastercat.catalog.search_rows import bbox_inside, dicts, flat, image_columns, inner_box
from rastercat.catalog.sort import order_at_random, order_by_property
from rastercat.catalog.validation import optional_string, parse_datetime, string_list
from rastercat.errors import InvalidInput, NotFound
from rastercat.protocol.dl017 import continuation
from rastercat.protocol.dl017.continuation import Position, bounded_list, count
from rastercat.store.sql.repo import Repo, t

MAX_PAGE = 10_000
BATCH = 2_000
"""Rows read from SQL at a time while streaming matches."""
FIRST_BATCH = 64
"""The smallest first batch of a search page (exact checks may drop a few candidates)."""


def _ts(value: Any, name: str) -> float | None:
    iso = parse_datetime(value, name)
    return None if iso is None else datetime.fromisoformat(iso).timestamp()


def _after(position: Position, desc: bool, dialect: str) -> Any:
    """Rows after ``position`` in (acquired, pk) order. Images with no date sort as the database
    puts NULLs (SQLite: smallest; PostgreSQL: largest), so the order can use the date index."""
    c = t.images.c
    acquired, pk = position
    nulls_first = desc == (dialect == "postgresql")
    pk_beyond = c.pk < pk if desc else c.pk > pk
    if acquired is None:
        rest = [c.acquired.is_not(None)] if nulls_first else []
        return sa.or_(sa.and_(c.acquired.is_(None), pk_beyond), *rest)
    rest = [] if nulls_first else [c.acquired.is_(None)]
    return sa.or_(
        c.acquired < acquired if desc else c.acquired > acquired,
        sa.and_(c.acquired == acquired, pk_beyond),
        *rest,
    )


class MetadataService:
    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    # products & bands --------------------------------------------------------------------------
    def readable_products(self, p: Principal) -> list[dict[str, Any]]:
        rows = self.repo.all(t.products, order_by=[t.products.c.id])
        return [r for r in rows if can_read(p, r)]

    def get_product(self, p: Principal, pid: str) -> dict[str, Any]:
        row = self.repo.one(t.products, id=pid)
        if row is None or not can_read(p, row):
            raise NotFound(f"product {pid!r} not found")
        return row

    def search_products(self, p: Principal, body: dict[str, Any]) -> list[dict[str, Any]]:
        rows = self.readable_products(p)
        owner = body.get("owner")
        if owner:
            principal = f"user:{namespace_of(str(owner))}"
            rows = [r for r in rows if principal in r["owners"] or owner in r["owners"]]
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
            for b in self.repo.all(t.bands, t.bands.c.product_uid.in_([r["uid"] for r in rows])):
                have.setdefault(b["product_uid"], set()).add(b["name"])
            rows = [r for r in rows if set(wanted) <= have.get(r["uid"], set())]
        return self._window(rows, body)

    def _window(self, rows: list[Any], body: dict[str, Any]) -> list[Any]:
        offset = count(body.get("offset"), "offset")
        limit = body.get("limit")
        if limit is not None:
            limit = count(limit, "limit")
        return rows[offset : None if limit is None else offset + limit]

    def _readable_bands(self, p: Principal, *clauses: Any) -> list[dict[str, Any]]:
        stmt = (
            sa.select(t.bands, t.products.c.owners.label("p_owners"), t.products.c.readers.label("p_readers"),
                      t.products.c.writers.label("p_writers"))
            .select_from(t.bands.join(t.products, t.bands.c.product_uid == t.products.c.uid))
            .where(*clauses)
            .order_by(t.bands.c.pk)
        )  # fmt: skip
        with self.repo.read() as conn:
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
        return [r for r in rows if self._visible(p, r)]

    def search_bands(self, p: Principal, body: dict[str, Any]) -> list[dict[str, Any]]:
        clauses = []
        products = body.get("products")
        if products:
            clauses.append(
                t.bands.c.product_id.in_(
                    bounded_list(string_list(products, "products", "a product id"), "products")
                )
            )
        rows = self._readable_bands(p, *clauses)
        owner = body.get("owner")
        if owner:
            principal = f"user:{namespace_of(str(owner))}"
            rows = [r for r in rows if principal in r["owners"]]
        return self._window(rows, body)

    def bands_of_product(self, p: Principal, pid: str) -> list[dict[str, Any]]:
        self.get_product(p, pid)
        return self._readable_bands(p, t.bands.c.product_id == pid)

    def get_band(self, p: Principal, band_id: str) -> dict[str, Any]:
        rows = self._readable_bands(p, t.bands.c.id == band_id)
        if not rows:
            raise NotFound(f"band {band_id!r} not found")
        return rows[0]

    # images ------------------------------------------------------------------------------------
    def _image_rows(self, *clauses: Any, order_by: Any = None, limit: int | None = None,
                    offset: int = 0, product_acl: bool = True,
                    conn: sa.Connection | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """Image rows, with their product's permissions (``p_owners`` ...) when ``product_acl``."""
        if product_acl:
            stmt = (
                sa.select(t.images, t.products.c.owners.label("p_owners"), t.products.c.readers.label("p_readers"),
                          t.products.c.writers.label("p_writers"))
                .select_from(t.images.join(t.products, t.images.c.product_uid == t.products.c.uid))
                .where(*clauses)
            )  # fmt: skip
        else:
            columns = image_columns()
            stmt = sa.select(*columns).select_from(t.images).where(*clauses)
        if order_by is not None:
            stmt = stmt.order_by(*order_by)
        if limit is not None:
            stmt = stmt.limit(limit).offset(offset)
        raw_json = not product_acl
        if conn is not None:
            return dicts(conn.execute(stmt), raw_json)
        with self.repo.read() as c:
            return dicts(c.execute(stmt), raw_json)

    @staticmethod
    def _visible(p: Principal, row: dict[str, Any]) -> bool:
        product_acl = {
            "owners": row["p_owners"],
            "readers": row["p_readers"],
            "writers": row["p_writers"],
        }
        return can_read_within(p, product_acl, row)

    def get_image(self, p: Principal, image_id: str) -> dict[str, Any]:
        rows = self._image_rows(t.images.c.id == image_id)
        if not rows or not self._visible(p, rows[0]):
            raise NotFound(f"image {image_id!r} not found")
        return rows[0]

    def get_images(
        self, p: Principal, ids: list[str], ignore_not_found: bool
    ) -> list[dict[str, Any]]:
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise InvalidInput("'ids' must be a list of image ids", field="ids")
        bounded_list(ids, "ids")
        found = {
            r["id"]: r for r in self._image_rows(t.images.c.id.in_(ids)) if self._visible(p, r)
        }
        missing = [i for i in ids if i not in found]
        if missing and not ignore_not_found:
            raise NotFound(f"image(s) not found: {', '.join(missing[:10])}")
        return [found[i] for i in ids if i in found]

    # search ------------------------------------------------------------------------------------
    def _candidates(
        self, p: Principal, body: dict[str, Any]
    ) -> tuple[list[Any], Any, dict[str, Any]]:
        """SQL clauses, the exact geometry and the python-side filters of a search body."""
        # The products the caller may read: asked-for products narrow the SQL; otherwise the set
        # is checked per row (a product clause on every query would steer SQLite's planner away
        # from the spatial index). Either way only the image's own permissions remain to check.
        readable = {r["id"]: r["uid"] for r in self.readable_products(p)}
        clauses: list[Any] = []
        products = body.get("products") or body.get("product")
        if products:
            products = bounded_list(string_list(products, "products", "a product id"), "products")
            uids = {readable[x] for x in products if x in readable}
            clauses.append(t.images.c.product_uid.in_(sorted(uids)))
        else:
            uids = set(readable.values())
        date_field = optional_string(body.get("date"), "date") or "acquired"
        start = _ts(body.get("start_datetime") or body.get("start_time"), "start_datetime")
        end = _ts(body.get("end_datetime") or body.get("end_time"), "end_datetime")
        if start is not None and end is not None and start > end:
            raise InvalidInput("'start_datetime' is after 'end_datetime'", field="start_datetime")
        geom = parse_geom(body.get("geom"))
        if date_field == "acquired":
            if start is not None:
                clauses.append(t.images.c.acquired >= start)
            if end is not None:
                clauses.append(t.images.c.acquired <= end)
        spatial = None
        if geom is not None:
            timed = date_field == "acquired"
            window = (start if timed else None, end if timed else None)
            spatial = (self.repo.spatial_clause(geom.bounds, *window), geom.bounds, *window)
            clauses.append(spatial[0])
        post: dict[str, Any] = {
            "products": uids,
            "geom": geom,
            "prepared": shapely.prepared.prep(geom) if geom is not None else None,
            # A bbox inside this box is inside the area: no shapely call for it (bbox_inside).
            "inner_box": inner_box(geom),
            # The spatial clause among ``clauses``, which iter_matches may swap for a walk of the
            # date index (Repo.date_index_pays): (clause, bbox, lo, hi).
            "spatial": spatial,
            "date_field": date_field if date_field != "acquired" else None,
            "start": start,
            "end": end,
        }
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
        post["pred"] = compile_expr({"and": preds}) if preds else None
        prefilter = (
            sql_prefilter({"and": preds}, t.images.c.attrs, self.repo.dialect) if preds else None
        )
        if prefilter is not None:
            clauses.append(prefilter)
        return clauses, geom, post

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
        candidates: tuple[list[Any], Any, dict[str, Any]] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every image the search body matches, in order. ``wanted``: how many the caller expects
        to take; the first batch read from SQL is sized for it (then batches grow), so a page of
        100 does not decode thousands of rows. In date order (the default) batches continue from
        the last row read (keyset), so reading far into the results costs no more per row than
        reading the start; ``after`` starts there. ``candidates``: what ``_candidates`` made of
        the body, when the caller has it already."""
        clauses, _, post = candidates or self._candidates(p, body)
        sort_field = body.get("sort_field")
        desc = body.get("sort_order") == "desc"
        keyset = sort_field in (None, "acquired") and not body.get("random_seed")
        if keyset:
            acq = t.images.c.acquired.desc() if desc else t.images.c.acquired.asc()
            order_by = [acq, t.images.c.pk.desc() if desc else t.images.c.pk]
        elif body.get("random_seed"):
            order_by = order_at_random(body["random_seed"])
        else:
            order_by = order_by_property(str(sort_field), desc, self.repo.dialect)
        offset = 0
        size = BATCH if wanted is None else min(BATCH, max(FIRST_BATCH, wanted + wanted // 4))
        # In date order the first rows may come cheaper from the date index than from the spatial
        # one (a large area over a short window); the same rows either way, decided once.
        spatial = post.get("spatial")
        undecided = keyset and spatial is not None and any(c is spatial[0] for c in clauses)
        while True:
            with self.repo.read() as conn:
                if undecided and spatial is not None:
                    undecided = False
                    clause, bbox, lo, hi = spatial
                    page = math.inf if wanted is None else float(wanted)
                    if self.repo.date_index_pays(conn, bbox, lo, hi, page):
                        walk = self.repo.spatial_clause(bbox, lo, hi, spatial_index=False)
                        clauses = [walk if c is clause else c for c in clauses]
                where = clauses
                if keyset and after is not None:
                    where = [*clauses, _after(after, desc, self.repo.dialect)]
                rows = self._image_rows(
                    *where,
                    order_by=order_by,
                    limit=size,
                    offset=0 if keyset else offset,
                    product_acl=False,
                    conn=conn,
                )
            for row in rows:
                if self._matches(p, row, post):
                    yield row
            if len(rows) < size:
                return
            if keyset:
                after = (rows[-1]["acquired"], rows[-1]["pk"])
            offset += size
            size = min(BATCH, size * 4)

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
        from rastercat.catalog.summary import row_facts, summarize
        from rastercat.catalog.summary_sql import sql_facts

        candidates = self._candidates(p, body)
        clauses, geom, post = candidates
        sql_only = geom is None and post["pred"] is None and post["date_field"] is None
        if in_sql is None:
            in_sql = sql_only
        elif in_sql and not sql_only:
            raise ValueError("this search has conditions only Python can check")
        if in_sql:
            readable = t.images.c.product_uid.in_(sorted(post["products"]))
            facts = sql_facts(self.repo, p, [*clauses, readable])
        else:
            rows = self.iter_matches(p, body, candidates=candidates)
            facts = row_facts(rows, post["date_field"] or "acquired")
        return summarize(facts, body)

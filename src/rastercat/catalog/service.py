"""The catalog's use-cases: products, bands and images, each behind the one permission check.

No HTTP and no SQL here: the service speaks to the repositories of :mod:`rastercat.store.ports`
(their SQL implementations in :mod:`rastercat.store.sql`) and raises the domain errors of
:mod:`rastercat.errors`.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from rastercat.catalog.access import can_read, check_access, owns_record
from rastercat.catalog.image_values import INFERRED, check_pixels_unchanged
from rastercat.catalog.principal import Principal, normalize_acl
from rastercat.config import Settings
from rastercat.errors import Conflict, InvalidInput, NotFound
from rastercat.protocol.dl017.image_attrs import ImageAttrs
from rastercat.protocol.validation import (
    BandAttrs,
    ProductAttrs,
    check_band_consistency,
    check_band_name,
    check_extra_properties,
    check_key,
    check_product_id,
    validate_attrs,
)
from rastercat.store.external import owned_key
from rastercat.store.ports import BandRepository, ImageRepository, ProductRepository, Tx
from rastercat.store.records import NewImage
from rastercat.store.sql.bands import Bands
from rastercat.store.sql.images import Images, image_columns, new_image_row
from rastercat.store.sql.products import Products
from rastercat.store.sql.repo import Repo, utcnow

ACL_FIELDS = {"owners": "owners", "read": "readers", "writers": "writers"}
# Ids given to the bands and images of a product being deleted; no real id starts with "~".
DELETED_ID_PREFIX = "~deleted:"


def split_acl(attrs: dict[str, Any]) -> dict[str, list[str]]:
    """Pop ACL attributes out of ``attrs`` into column values (normalized)."""
    return {
        col: normalize_acl(attrs.pop(name), name)
        for name, col in ACL_FIELDS.items()
        if name in attrs
    }


def sub_key(parent_id: str, value: str) -> str:
    """Band and image routes accept the bare name/key or the full id."""
    return value[len(parent_id) + 1 :] if value.startswith(parent_id + ":") else value


class CatalogService:
    def __init__(self, repo: Repo, settings: Settings) -> None:
        self.repo = repo
        self.settings = settings
        self.products: ProductRepository = Products(repo)
        self.bands: BandRepository = Bands(repo)
        self.images: ImageRepository = Images(repo)

    # products --------------------------------------------------------------------------------
    def product_for(self, conn: Tx, p: Principal, pid: str, level: str, *,
                    for_update: bool = False) -> dict[str, Any]:  # fmt: skip
        """The product ``pid`` if ``p`` has ``level`` access to it (``read``, ``write``, ``own``),
        inside the caller's transaction; NotFound or Forbidden as the one permission check says.
        Every use-case on a product, its bands, images and uploads starts here."""
        row = self.products.find(conn, pid, for_update=for_update)
        check_access(p, row, level, f"product {pid!r}")
        assert row is not None
        return row

    def full_product_id(self, p: Principal, product_id: str) -> str:
        check_product_id(product_id)
        if product_id.startswith(p.namespace + ":") or (
            p.org and product_id.startswith(p.org + ":")
        ):
            return product_id
        return f"{p.namespace}:{product_id}"

    def create_product(self, p: Principal, body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        raw_id = body.pop("id", None)
        if raw_id is None:
            raise InvalidInput("missing required product field: id", field="id")
        attrs = validate_attrs(ProductAttrs, body, "product")
        for required in ("title", "description"):
            if not attrs.get(required):
                raise InvalidInput(f"missing required product field: {required}", field=required)
        pid = self.full_product_id(p, str(raw_id))
        acl = split_acl(attrs)
        owners = acl.get("owners") or []
        if p.user_principal not in owners:
            owners = [p.user_principal, *owners]
        now = utcnow()
        with self.repo.tx() as conn:
            if self.products.find(conn, pid) is not None:
                raise Conflict(f"product {pid!r} already exists")
            self.products.create(
                conn,
                {
                    "id": pid,
                    "uid": uuid.uuid4().hex,
                    "namespace": p.namespace,
                    "attrs": attrs,
                    "owners": owners,
                    "readers": acl.get("readers", []),
                    "writers": acl.get("writers", []),
                    "created": now,
                    "modified": now,
                },
            )
            return self.product_for(conn, p, pid, "read")

    def get_product(self, p: Principal, pid: str) -> dict[str, Any]:
        with self.repo.tx() as conn:
            return self.product_for(conn, p, pid, "read")

    def update_product(
        self, p: Principal, pid: str, body: dict[str, Any], *, replace: bool, set_global: bool
    ) -> dict[str, Any]:
        body = dict(body)
        if body.pop("id", pid) not in (pid, sub_key(pid, pid)):
            raise InvalidInput("the product id cannot be changed", field="id")
        attrs = validate_attrs(ProductAttrs, body, "product")
        if replace:
            for required in ("title", "description"):
                if not attrs.get(required):
                    raise InvalidInput(
                        f"missing required product field: {required}", field=required
                    )
        acl = split_acl(attrs)
        with self.repo.tx() as conn:
            row = self.product_for(
                conn, p, pid, "own" if acl or set_global else "write", for_update=True
            )
            new_attrs = attrs if replace else {**row["attrs"], **attrs}
            values: dict[str, Any] = {"attrs": new_attrs, "modified": utcnow(), **acl}
            if "owners" in values and not values["owners"]:
                raise InvalidInput("a product needs at least one owner", field="owners")
            self.products.update(conn, row["pk"], values)
            if set_global:
                self.products.queue_permission_job(conn, row["uid"], utcnow())
            return self.product_for(conn, p, pid, "read")

    def delete_product(self, p: Principal, pid: str, *, cascade: bool) -> str | None:
        """Delete a product. With ``cascade`` its bands, images, uploads and files go in a
        background task whose id is returned; the product itself disappears at once."""
        with self.repo.tx() as conn:
            row = self.product_for(conn, p, pid, "own")
            uid = row["uid"]
            held = self.products.holdings(conn, uid)
            n_bands, n_images, pending = held.bands, held.images, held.unfinished_uploads
            if (n_bands or n_images or pending) and not cascade:
                raise Conflict(
                    f"product {pid!r} still has {n_bands} band(s), {n_images} image(s) and "
                    f"{pending} unfinished upload(s): remove them first, or delete with cascade=True"
                )
            self.products.delete(conn, row["pk"])
            if not cascade:
                self.products.delete_uploads(conn, uid)
                return None
            # Band and image ids are unique: free them now, so the product can be re-created
            # under the same id (and given the same bands and images) while the task runs.
            self.products.free_ids(conn, uid, DELETED_ID_PREFIX)
            task_id = f"{secrets.token_urlsafe(16)}:{row['pk']}"
            now = utcnow()
            self.products.add_deletion_task(
                conn,
                {
                    "id": task_id,
                    "product_uid": uid,
                    "product_id": pid,
                    "owner_pk": p.user_pk,
                    "status": "PENDING",
                    "total": n_bands + n_images,
                    "deleted": 0,
                    "errors": [],
                    "created": now,
                    "updated": now,
                },
            )
            return task_id

    def deletion_status(self, p: Principal, task_id: str) -> dict[str, Any]:
        row = self.products.deletion_task(task_id)
        if row is None or not owns_record(p, row["owner_pk"]):
            raise NotFound(f"deletion task {task_id!r} not found")
        return row

    # bands -----------------------------------------------------------------------------------
    def _band(
        self, conn: Tx, p: Principal, pid: str, name: str, level: str,
        for_update: bool = False,
    ) -> tuple[dict, dict]:  # fmt: skip
        product = self.product_for(conn, p, pid, "read")
        key = sub_key(pid, name)
        row = self.bands.find(conn, product["uid"], key, for_update=for_update)
        check_access(p, row, level, f"band {key!r} of product {pid!r}")
        assert row is not None
        return product, row

    def create_band(self, p: Principal, pid: str, body: dict[str, Any]) -> dict[str, Any]:
        body = dict(body)
        name = check_band_name(body.pop("name", None) or body.pop("id", None))
        body.pop("id", None)
        attrs = validate_attrs(BandAttrs, body, "band")
        acl = split_acl(attrs)
        attrs.setdefault("srcfile", 0)
        attrs.setdefault("jpx_layer", 0)
        check_band_consistency(attrs)
        if attrs.get("colormap") is not None:
            attrs.setdefault("color", "Palette")
        now = utcnow()
        with self.repo.tx() as conn:
            # Choosing permissions other than the product's is an owner's decision.
            product = self.product_for(conn, p, pid, "own" if acl else "write")
            if self.bands.find(conn, product["uid"], name) is not None:
                raise Conflict(f"band {name!r} already exists in product {pid!r}")
            self.bands.create(
                conn,
                {
                    "id": f"{pid}:{name}",
                    "product_uid": product["uid"],
                    "product_id": pid,
                    "name": name,
                    "attrs": attrs,
                    "owners": acl.get("owners") or product["owners"],
                    "readers": acl.get("readers", product["readers"]),
                    "writers": acl.get("writers", product["writers"]),
                    "created": now,
                    "modified": now,
                },
            )
            return self._band(conn, p, pid, name, "read")[1]

    def get_band(self, p: Principal, pid: str, name: str) -> dict[str, Any]:
        with self.repo.tx() as conn:
            return self._band(conn, p, pid, name, "read")[1]

    def list_bands(self, p: Principal, pid: str) -> list[dict[str, Any]]:
        with self.repo.tx() as conn:
            product = self.product_for(conn, p, pid, "read")
            rows = self.bands.of_product(conn, product["uid"])
        return [r for r in rows if can_read(p, r)]

    def update_band(
        self, p: Principal, pid: str, name: str, body: dict[str, Any], *, replace: bool
    ) -> dict[str, Any]:
        body = dict(body)
        body.pop("name", None)
        body.pop("id", None)
        attrs = validate_attrs(BandAttrs, body, "band")
        acl = split_acl(attrs)
        with self.repo.tx() as conn:
            _, row = self._band(conn, p, pid, name, "own" if acl else "write", for_update=True)
            merged = dict(attrs) if replace else {**row["attrs"], **attrs}
            merged.setdefault("srcfile", 0)
            merged.setdefault("jpx_layer", 0)
            check_band_consistency(merged)
            if attrs.get("colormap") is not None and "color" not in attrs:
                merged["color"] = "Palette"
            self.bands.update(conn, row["pk"], {"attrs": merged, "modified": utcnow(), **acl})
            return self._band(conn, p, pid, name, "read")[1]

    def delete_band(self, p: Principal, pid: str, name: str, *, force: bool = False) -> None:
        """Remove a band. While images with pixels still hold it, that is a 409 unless ``force``:
        their pixels stay, but the band can no longer be read from them."""
        with self.repo.tx() as conn:
            product, row = self._band(conn, p, pid, name, "own")
            if not force:
                users = self.bands.images_holding(conn, product["uid"], row["name"])
                if users:
                    raise Conflict(
                        f"band {row['name']!r} is used by {users} image(s) of product {pid!r}: "
                        "remove those images first, or delete the band with force=true"
                    )
            self.bands.delete(conn, row["pk"])

    # images (metadata) -----------------------------------------------------------------------
    def _image(
        self, conn: Tx, p: Principal, pid: str, key: str, level: str,
        for_update: bool = False,
    ) -> tuple[dict, dict]:  # fmt: skip
        product = self.product_for(conn, p, pid, "read")
        key = sub_key(pid, key)
        row = self.images.find(conn, product["uid"], key, for_update=for_update)
        check_access(p, row, level, f"image {key!r} of product {pid!r}")
        assert row is not None
        return product, row

    def _image_attrs(self, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate_attrs(ImageAttrs, body, "image")
        check_extra_properties(
            attrs.get("extra_properties"), self.settings.limits.max_extra_properties
        )
        return attrs

    def prepare_image(self, pid: str, body: dict[str, Any]) -> NewImage:
        """Validate one new image's body (id and attributes): the one rule shared by single and
        bulk creation; no database access."""
        body = dict(body)
        key = body.pop("id", None) or body.pop("key", None)
        body.pop("key", None)
        key = check_key(sub_key(pid, str(key)) if key else "", "image id")
        attrs = self._image_attrs(body)
        acl = split_acl(attrs)
        return NewImage(key=key, attrs=attrs, acl=acl)

    @staticmethod
    def image_row(product: dict[str, Any], new: NewImage, now: datetime) -> dict[str, Any]:
        """The ``images`` row of a prepared image: its id, and the product's permissions unless
        the image names its own."""
        columns = {**image_columns({**new.attrs, **new.inferred}), **new.storage}
        return new_image_row(product, new.key, columns, new.acl, now)

    def create_image(self, p: Principal, pid: str, body: dict[str, Any]) -> dict[str, Any]:
        new = self.prepare_image(pid, body)
        with self.repo.tx() as conn:
            product = self.product_for(conn, p, pid, "own" if new.acl else "write")
            if self.images.find(conn, product["uid"], new.key) is not None:
                raise Conflict(f"image {new.key!r} already exists in product {pid!r}")
            columns = {**image_columns({**new.attrs, **new.inferred}), **new.storage}
            self.images.create(conn, product, new.key, columns, new.acl, utcnow())
            return self._image(conn, p, pid, new.key, "read")[1]

    def get_image(self, p: Principal, pid: str, key: str) -> dict[str, Any]:
        with self.repo.tx() as conn:
            return self._image(conn, p, pid, key, "read")[1]

    def update_image(
        self, p: Principal, pid: str, key: str, body: dict[str, Any], *, replace: bool
    ) -> dict[str, Any]:
        body = dict(body)
        body.pop("id", None)
        attrs = self._image_attrs(body)
        acl = split_acl(attrs)
        with self.repo.tx() as conn:
            _, row = self._image(conn, p, pid, key, "own" if acl else "write", for_update=True)
            if row["storage_key"]:
                check_pixels_unchanged(row["attrs"], attrs)
            if replace:
                # Replacing keeps what ingest inferred about the pixels: only user attributes go.
                kept = {k: row["attrs"][k] for k in INFERRED if k in row["attrs"]}
                merged = {**kept, **attrs}
            else:
                merged = {**row["attrs"], **attrs}
            columns = image_columns(merged)
            self.images.replace(conn, row["pk"], {**columns, "modified": utcnow(), **acl})
            return self._image(conn, p, pid, key, "read")[1]

    def delete_image(self, p: Principal, pid: str, key: str) -> str | None:
        """Remove the image record; returns the storage key of its file for the caller to delete
        (None for a file registered in place: rastercat never deletes what it did not write)."""
        with self.repo.tx() as conn:
            _, row = self._image(conn, p, pid, key, "own")
            self.images.delete(conn, row["pk"])
            return owned_key(row["storage_key"])

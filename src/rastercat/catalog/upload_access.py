"""Who may upload into which image: checked at step 1, again when the bytes arrive (step 2) and
once more when the job finalizes its image, so a URL stops working when access is revoked and no
race replaces an image its uploader may not change.

The rules are those of ``add_image`` and ``change_image``, through the one permission check
(:func:`~rastercat.catalog.principal.check_access`): the product needs ``write``; an image of
the same key that already exists is replaced, which needs ``write`` on that image (``own`` when
the upload carries ACL fields), and a new image with ACL fields needs ``own`` on the product.

An existing image the uploader may not even read answers 409 "already exists", exactly what
``add_image`` answers for that key: the key is taken whoever holds it, so saying so reveals
nothing that creating an image with that id does not already reveal, and nothing about the image
itself (a 403 would confirm that it is readable; a 404 would contradict the catalog).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rastercat.catalog.access import can_read, check_access
from rastercat.catalog.principal import Principal
from rastercat.catalog.users import principal_of
from rastercat.errors import Conflict, Forbidden, NotFound
from rastercat.store.ports import Tx
from rastercat.store.sql.images import Images
from rastercat.store.sql.products import Products
from rastercat.store.sql.repo import Repo
from rastercat.store.sql.users import Users


def check_image_access(
    conn: Tx, repo: Repo, p: Principal, product: dict[str, Any], image_key: str,
    acl: dict[str, list[str]], *, lock: bool = False,
) -> dict[str, Any] | None:  # fmt: skip
    """Check that ``p`` may upload into ``image_key`` of ``product`` (whose ``write`` access is
    checked already); returns the image it would replace, or None for a new image."""
    pid = product["id"]
    existing = Images(repo).find(conn, product["uid"], image_key, for_update=lock)
    if existing is None:
        if acl:
            check_access(p, product, "own", f"product {pid!r}")
        return None
    if not can_read(p, existing):
        raise Conflict(f"image {image_key!r} already exists in product {pid!r}")
    what = f"image {image_key!r} of product {pid!r}"
    check_access(p, existing, "own" if acl else "write", what)
    return existing


def uploader(conn: Tx, repo: Repo, upload: dict[str, Any]) -> Principal:
    """The user who asked for the upload, as they are now (groups and org included). Forbidden
    when the account was removed, or its tokens were revoked after the URL was handed out: the
    URL is a credential of that user."""
    user = Users(repo).find(conn, pk=upload["owner_pk"])
    if user is None:
        raise Forbidden("the account that asked for this upload no longer exists")
    created = upload["created"]
    created = created if created.tzinfo else created.replace(tzinfo=UTC)
    if user["tokens_valid_after"] and created < datetime.fromtimestamp(
        user["tokens_valid_after"], UTC
    ):
        raise Forbidden("the uploader's tokens were revoked after this upload URL was made")
    return principal_of(conn, user)


def recheck(
    conn: Tx, repo: Repo, upload: dict[str, Any], *, lock: bool = False
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Check again, with permissions as they are now, that the uploader may still write the
    upload's image; returns the product and the image it replaces (or None). NotFound when the
    product was deleted or can no longer be seen by the uploader; Forbidden when it (or the
    image) may be seen but no longer changed; Conflict when the key now belongs to an image the
    uploader may not see."""
    product = Products(repo).find_uid(conn, upload["product_uid"])
    if product is None:
        raise NotFound("the product of this upload was deleted")
    p = uploader(conn, repo, upload)
    if not can_read(p, product):
        raise NotFound(f"the uploader can no longer see product {product['id']!r}")
    check_access(p, product, "write", f"product {product['id']!r}")
    existing = check_image_access(
        conn, repo, p, product, upload["image_key"], upload_acl(upload), lock=lock
    )
    return product, existing


def upload_acl(upload: dict[str, Any]) -> dict[str, list[str]]:
    """The ACL columns given with the upload (normalized at step 1); empty when none were."""
    return dict(upload["params"].get("acl") or {})

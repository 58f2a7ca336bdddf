"""The read rule, in one place: what a principal may do with a product, band or image.

An object carries three ACL lists, ``owners``, ``readers`` and ``writers`` (principal names such as
``user:<namespace>``, ``group:<name>``, ``org:<name>``). Anyone listed in any of them may read it;
owners and writers may change it; owners may change its permissions or delete it; an admin may do
everything. A band or image is visible only when its product is visible too.

The SQL form of the same rule is :func:`rastercat.store.sql.access.readable_clause`, held equal to
this one for every role on SQLite and PostgreSQL by ``tests/permissions/test_access_rule.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rastercat.catalog.principal import Principal, namespace_of
from rastercat.errors import Forbidden, NotFound
from rastercat.store.records import ACL_COLUMNS

ACCESS_LEVELS = ("read", "write", "own")


def _listed(principal: Principal, obj: Mapping[str, Any], names: tuple[str, ...]) -> bool:
    """Whether any of the principal's names is in any of the object's ACL lists ``names``
    (``isdisjoint`` on each list as it is: a search checks every candidate row, and building
    the lists' sets took a tenth of a search's Python time)."""
    mine = principal.principals
    return any(not mine.isdisjoint(obj.get(name) or ()) for name in names)


def can_read(principal: Principal, obj: Mapping[str, Any]) -> bool:
    return principal.is_admin or _listed(principal, obj, ("owners", "readers", "writers"))


def can_write(principal: Principal, obj: Mapping[str, Any]) -> bool:
    return principal.is_admin or _listed(principal, obj, ("owners", "writers"))


def is_owner(principal: Principal, obj: Mapping[str, Any]) -> bool:
    return principal.is_admin or _listed(principal, obj, ("owners",))


def can_read_within(
    principal: Principal, product: Mapping[str, Any], obj: Mapping[str, Any]
) -> bool:
    """A band or image is visible only when both it and its product are: sharing a product without
    ``set_global_permissions`` shows the product, not what it holds (the guide's warning)."""
    return can_read(principal, product) and can_read(principal, obj)


def product_acl(row: Mapping[str, Any]) -> dict[str, Any]:
    """The product's ACL of a band or image row read with it (``p_owners``, ``p_readers``,
    ``p_writers``: see :mod:`rastercat.store.sql.search`)."""
    return {name: row[f"p_{name}"] for name in ACL_COLUMNS}


def can_read_joined(principal: Principal, row: Mapping[str, Any]) -> bool:
    """:func:`can_read_within` for a band or image row that carries its product's ACL."""
    return can_read_within(principal, product_acl(row), row)


def owns_record(principal: Principal, owner_pk: int) -> bool:
    """Whether a record kept for one user (an upload, a deletion task) is the caller's to see:
    its own user, or an admin."""
    return owner_pk == principal.user_pk or principal.is_admin


def listed_owner(obj: Mapping[str, Any], owner: Any, *, by_name: bool = False) -> bool:
    """Whether the user with sub ``owner`` is among ``obj``'s owners (the ``owner`` filter of the
    product and band searches: what is shown still passes :func:`can_read`). ``by_name``: an
    owners entry equal to ``owner`` itself counts too (the product search has always taken it)."""

    owners = obj.get("owners") or ()
    return f"user:{namespace_of(str(owner))}" in owners or (by_name and owner in owners)


def check_access(
    principal: Principal, obj: Mapping[str, Any] | None, level: str, what: str
) -> None:
    """The one permission check: 404 for what the caller may not see (no existence leak), 403 for
    what they may see but not change.

    ``level`` is ``read`` (metadata and pixels), ``write`` (add or change bands and images, upload)
    or ``own`` (change permissions, delete).
    """
    if level not in ACCESS_LEVELS:
        raise ValueError(f"unknown access level {level!r}")
    if obj is None or not can_read(principal, obj):
        raise NotFound(f"{what} not found")
    if level == "write" and not can_write(principal, obj):
        raise Forbidden(f"you may read {what} but not change it")
    if level == "own" and not is_owner(principal, obj):
        raise Forbidden(f"only an owner of {what} may do this")

"""Who is calling, and what they may do with an object that carries ``owners``/``read``/``writers``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rastercat.errors import Forbidden, InvalidInput, NotFound

KNOWN_PREFIXES = ("user:", "group:", "org:", "email:")


def namespace_of(sub: str) -> str:
    return hashlib.sha1(sub.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    user_pk: int
    name: str
    sub: str
    namespace: str
    groups: frozenset[str] = field(default_factory=frozenset)
    org: str | None = None
    is_admin: bool = False

    @property
    def user_principal(self) -> str:
        return f"user:{self.namespace}"

    @property
    def principals(self) -> frozenset[str]:
        out = {self.user_principal}
        out.update(f"group:{g}" for g in self.groups)
        if self.org:
            out.add(f"org:{self.org}")
        return frozenset(out)


def normalize_acl(entries: Any, field_name: str) -> list[str]:
    """Normalize an ACL list: entries without a known prefix are groups (the guide's ``'some:group'``
    becomes ``'group:some:group'``)."""
    if entries is None:
        return []
    if isinstance(entries, str) or not isinstance(entries, Iterable):
        raise InvalidInput(f"'{field_name}' must be a list of strings", field=field_name)
    out: list[str] = []
    for entry in entries:
        if not isinstance(entry, str) or not entry.strip():
            raise InvalidInput(
                f"'{field_name}' entries must be non-empty strings", field=field_name
            )
        entry = entry.strip()
        if not entry.startswith(KNOWN_PREFIXES):
            entry = "group:" + entry
        if entry not in out:
            out.append(entry)
    return out


def _acl(obj: Mapping[str, Any], name: str) -> set[str]:
    return set(obj.get(name) or ())


def can_read(principal: Principal, obj: Mapping[str, Any]) -> bool:
    if principal.is_admin:
        return True
    allowed = _acl(obj, "owners") | _acl(obj, "readers") | _acl(obj, "writers")
    return bool(allowed & principal.principals)


def can_write(principal: Principal, obj: Mapping[str, Any]) -> bool:
    if principal.is_admin:
        return True
    return bool((_acl(obj, "owners") | _acl(obj, "writers")) & principal.principals)


def is_owner(principal: Principal, obj: Mapping[str, Any]) -> bool:
    return principal.is_admin or bool(_acl(obj, "owners") & principal.principals)


ACCESS_LEVELS = ("read", "write", "own")


def can_read_within(
    principal: Principal, product: Mapping[str, Any], obj: Mapping[str, Any]
) -> bool:
    """A band or image is visible only when both it and its product are: sharing a product without
    ``set_global_permissions`` shows the product, not what it holds (the guide's warning)."""
    return can_read(principal, product) and can_read(principal, obj)


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

"""Who is calling: a principal and the names it answers to in ACLs. What it may do with an object
is decided in :mod:`rastercat.catalog.access`."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rastercat.errors import InvalidInput

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
    principals: frozenset[str] = field(init=False, repr=False, compare=False)
    """Every name the principal answers to in an ACL: its user, groups and org (computed once:
    each permission check reads it)."""

    def __post_init__(self) -> None:
        out = {self.user_principal}
        out.update(f"group:{g}" for g in self.groups)
        if self.org:
            out.add(f"org:{self.org}")
        object.__setattr__(self, "principals", frozenset(out))

    @property
    def user_principal(self) -> str:
        return f"user:{self.namespace}"


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

"""Users and their group memberships."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from rastercat.store.sql import tables as t
from rastercat.store.sql.repo import PRODUCT_VERSION, USER_VERSION, Repo


def member_groups(conn: sa.Connection, user_pk: int) -> list[str]:
    """The groups user ``user_pk`` belongs to, in no particular order."""
    stmt = sa.select(t.memberships.c.group_name).where(t.memberships.c.user_pk == user_pk)
    return list(conn.execute(stmt).scalars())


@functools.cache
def _by_sub() -> sa.Select[Any]:
    """A user by ``sub`` with one row per group (one row with a NULL group for none), and the
    versions of the products and of the users in passing (a search reads the first next: one
    round trip fewer; the process remembers the caller with both, ``UserService.remembered``):
    built once, so each request's authentication skips building and keying the statement."""
    group = t.memberships.c.group_name.label("rastercat_group")
    versions = [
        sa.select(table.c.version)
        .where(table.c.id == 1)
        .scalar_subquery()
        .label(f"rastercat_{name}_version")
        for name, table in (("product", t.product_epoch), ("user", t.user_epoch))
    ]
    return (
        sa.select(t.users, group, *versions)
        .select_from(t.users.outerjoin(t.memberships, t.memberships.c.user_pk == t.users.c.pk))
        .where(t.users.c.sub == sa.bindparam("sub"))
    )


class Users:
    """User rows (plain dicts) through one :class:`Repo`."""

    def __init__(self, repo: Repo) -> None:
        self.repo = repo

    def find(self, conn: sa.Connection, **where: Any) -> dict[str, Any] | None:
        """The user matching ``where`` (``pk``, ``name`` or ``sub``)."""
        return self.repo.one(t.users, conn, **where)

    def with_groups(self, conn: sa.Connection, sub: str) -> tuple[dict[str, Any] | None, list[str]]:
        """The user of ``sub`` and their groups, in one query (authentication, every request)."""
        rows = conn.execute(_by_sub(), {"sub": sub}).mappings().all()
        if not rows:
            return None, []
        user = {k: v for k, v in rows[0].items() if not k.startswith("rastercat_")}
        facts = self.repo.snapshot_facts(conn)
        if facts is not None and rows[0]["rastercat_product_version"] is not None:
            facts[PRODUCT_VERSION] = int(rows[0]["rastercat_product_version"])
            if rows[0]["rastercat_user_version"] is not None:
                facts[USER_VERSION] = int(rows[0]["rastercat_user_version"])
        return user, [r["rastercat_group"] for r in rows if r["rastercat_group"] is not None]

    def all(self, conn: sa.Connection) -> list[dict[str, Any]]:
        """Every user, by name."""
        return self.repo.all(t.users, order_by=[t.users.c.name], conn=conn)

    def create(self, conn: sa.Connection, values: Mapping[str, Any], groups: Iterable[str]) -> int:
        pk = self.repo.insert(t.users, dict(values), conn)
        self.add_groups(conn, pk, groups)
        return pk

    def update(self, conn: sa.Connection, pk: int, values: Mapping[str, Any]) -> None:
        self.repo.update(t.users, pk, dict(values), conn)

    def delete(self, conn: sa.Connection, pk: int) -> None:
        """Remove the user and their memberships."""
        conn.execute(sa.delete(t.memberships).where(t.memberships.c.user_pk == pk))
        self.repo.delete(t.users, pk, conn)

    def groups(self, conn: sa.Connection, pk: int) -> list[str]:
        """The user's groups, sorted."""
        rows = self.repo.all(t.memberships, t.memberships.c.user_pk == pk, conn=conn)
        return sorted(r["group_name"] for r in rows)

    def add_groups(self, conn: sa.Connection, pk: int, groups: Iterable[str]) -> None:
        for g in groups:
            self.repo.insert(t.memberships, {"user_pk": pk, "group_name": g}, conn)

    def remove_groups(self, conn: sa.Connection, pk: int, groups: Iterable[str]) -> None:
        for g in groups:
            conn.execute(
                sa.delete(t.memberships).where(
                    t.memberships.c.user_pk == pk, t.memberships.c.group_name == g
                )
            )

    def members(self, conn: sa.Connection) -> list[tuple[str, str]]:
        """(group, user name) of every membership, by group then user."""
        stmt = (
            sa.select(t.memberships.c.group_name, t.users.c.name)
            .select_from(t.memberships.join(t.users, t.memberships.c.user_pk == t.users.c.pk))
            .order_by(t.memberships.c.group_name, t.users.c.name)
        )
        return [(group, user) for group, user in conn.execute(stmt)]


__all__ = ["Users", "member_groups"]

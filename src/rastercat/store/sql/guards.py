"""Guarded reads: a search of a caller the process remembers, checked by the database in the
search's own statement instead of by reading the caller first.

A search read its caller's user row and groups (with the products' version) before its rows: on
PostgreSQL a ``BEGIN``, that query and the rows, each a round trip to a server process that had
gone idle while the request was parsed (0.25-0.35 ms each on this machine). A process now keeps
each caller it authenticated with the versions of the users and of the products it read them at
(``rastercat.catalog.users.UserService.remembered``); the rows' statement then carries
:func:`guard_condition`: the versions as they are in the statement's own snapshot must equal the
remembered ones, or the statement finds nothing. A statement that finds nothing is followed by
:func:`confirm` (was it the guard?), and a changed version raises
:class:`~rastercat.store.read_ports.StaleSnapshot`: the request is answered again the full way.
Any change to ``users`` or ``memberships`` (a revocation, a group, an org, a removal: triggers,
migration 0008) or to ``products`` (a share, migration 0007) moves a version, so a guarded read
returns rows only for the caller and the ACLs as they are in that very snapshot.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import sqlalchemy as sa

from rastercat.store.read_ports import StaleSnapshot, Versions
from rastercat.store.sql import tables as t


def _version(table: sa.Table) -> Any:
    return sa.select(table.c.version).where(table.c.id == 1).scalar_subquery()


def guard_condition(users: Any, products: Any) -> Any:
    """True while the catalog's versions are ``users`` and ``products`` (values, or bind
    parameters of a statement built once): uncorrelated subqueries, evaluated once per statement
    (PostgreSQL: a one-time filter over the plan; SQLite: a constant term tested before the
    loop)."""
    return sa.and_(_version(t.user_epoch) == users, _version(t.product_epoch) == products)


def guard_values(versions: Versions) -> dict[str, int]:
    """The bind values of ``guard_condition(bindparam("guard_users"), bindparam("guard_products"))``."""
    return {"guard_users": versions.users, "guard_products": versions.products}


@cache
def _versions() -> sa.Select[Any]:
    return sa.select(_version(t.user_epoch), _version(t.product_epoch))


def confirm(conn: sa.Connection, versions: Versions) -> None:
    """After a guarded statement found nothing: raise :class:`StaleSnapshot` when that was the
    guard (the versions moved on), else return (there was nothing to find)."""
    users, products = conn.execute(_versions()).one()
    if (int(users), int(products)) != (versions.users, versions.products):
        raise StaleSnapshot(
            f"the catalog moved from {versions} to users {users}, products {products}"
        )

"""Users, groups and orgs, and turning a token into a :class:`Principal`."""

from __future__ import annotations

import re
import time
from typing import Any

import sqlalchemy as sa

from rastercat.catalog.principal import Principal, namespace_of
from rastercat.catalog.tokens import mint_user_token, verify_user_token
from rastercat.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from rastercat.store.sql.repo import Repo, t, utcnow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@|:+-]{0,199}$")


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value or ""):
        raise InvalidInput(
            f"{what} {value!r} is not valid: use letters, digits and _ . @ | : + - (max 200)",
            field=what,
        )
    return value


class UserService:
    def __init__(self, repo: Repo, secret: bytes) -> None:
        self.repo = repo
        self.secret = secret

    # administration ------------------------------------------------------------------------
    def add_user(
        self,
        name: str,
        *,
        groups: tuple[str, ...] = (),
        org: str | None = None,
        sub: str | None = None,
        is_admin: bool = False,
    ) -> dict[str, Any]:
        _check_name(name, "name")
        sub = sub or name
        for g in groups:
            _check_name(g, "group")
        if org is not None:
            _check_name(org, "org")
        with self.repo.tx() as conn:
            if self.repo.one(t.users, conn, name=name) or self.repo.one(t.users, conn, sub=sub):
                raise Conflict(f"user {name!r} already exists")
            pk = self.repo.insert(
                t.users,
                {
                    "name": name,
                    "sub": sub,
                    "namespace": namespace_of(sub),
                    "org": org,
                    "is_admin": is_admin,
                    "tokens_valid_after": 0.0,
                    "created": utcnow(),
                },
                conn,
            )
            for g in dict.fromkeys(groups):
                self.repo.insert(t.memberships, {"user_pk": pk, "group_name": g}, conn)
        return self.get_user(name)

    def get_user(self, name: str) -> dict[str, Any]:
        with self.repo.read() as conn:
            row = self.repo.one(t.users, conn, name=name)
            if row is None:
                raise NotFound(f"user {name!r} not found")
            row["groups"] = self._groups(conn, row["pk"])
        return row

    def ensure_user(self, name: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self.get_user(name)
        except NotFound:
            return self.add_user(name, **kwargs)

    def list_users(self) -> list[dict[str, Any]]:
        with self.repo.read() as conn:
            rows = self.repo.all(t.users, order_by=[t.users.c.name], conn=conn)
            for row in rows:
                row["groups"] = self._groups(conn, row["pk"])
        return rows

    def remove_user(self, name: str) -> None:
        """Remove a user: their tokens stop working at once. What they own stays, owned by
        ``user:<namespace>``, so re-adding the same ``sub`` gives it back."""
        user = self.get_user(name)
        with self.repo.tx() as conn:
            conn.execute(sa.delete(t.memberships).where(t.memberships.c.user_pk == user["pk"]))
            self.repo.delete(t.users, user["pk"], conn)

    def list_groups(self) -> dict[str, list[str]]:
        """Every group that has members, with the names of its members."""
        stmt = (
            sa.select(t.memberships.c.group_name, t.users.c.name)
            .select_from(t.memberships.join(t.users, t.memberships.c.user_pk == t.users.c.pk))
            .order_by(t.memberships.c.group_name, t.users.c.name)
        )
        out: dict[str, list[str]] = {}
        with self.repo.read() as conn:
            for group, user in conn.execute(stmt):
                out.setdefault(group, []).append(user)
        return out

    def set_groups(
        self, name: str, add: tuple[str, ...] = (), remove: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        user = self.get_user(name)
        with self.repo.tx() as conn:
            for g in dict.fromkeys(add):
                _check_name(g, "group")
                if g not in user["groups"]:
                    self.repo.insert(t.memberships, {"user_pk": user["pk"], "group_name": g}, conn)
            for g in remove:
                conn.execute(
                    sa.delete(t.memberships).where(
                        t.memberships.c.user_pk == user["pk"], t.memberships.c.group_name == g
                    )
                )
        return self.get_user(name)

    def set_org(self, name: str, org: str | None) -> dict[str, Any]:
        user = self.get_user(name)
        if org is not None:
            _check_name(org, "org")
        with self.repo.tx() as conn:
            self.repo.update(t.users, user["pk"], {"org": org}, conn)
        return self.get_user(name)

    def revoke_tokens(self, name: str) -> None:
        """Invalidate every token issued to the user so far."""
        user = self.get_user(name)
        with self.repo.tx() as conn:
            self.repo.update(t.users, user["pk"], {"tokens_valid_after": time.time()}, conn)

    def mint_token(self, name: str, *, days: float = 3650) -> str:
        user = self.get_user(name)
        # iat is in whole seconds: make sure a token minted right after a revocation is valid.
        if user["tokens_valid_after"] >= int(time.time()):
            time.sleep(max(0.0, user["tokens_valid_after"] + 1 - time.time()))
        return mint_user_token(self.secret, user["sub"], days=days, name=name)

    # authentication --------------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Principal:
        claims = verify_user_token(self.secret, token)
        with self.repo.read() as conn:
            user = self.repo.one(t.users, conn, sub=str(claims["sub"]))
            if user is None:
                raise Unauthenticated("the token's user is not known to this server")
            if float(claims.get("iat", 0)) < user["tokens_valid_after"]:
                raise Unauthenticated("the token has been revoked: create a new one")
            groups = self._groups(conn, user["pk"])
        return Principal(
            user_pk=user["pk"],
            name=user["name"],
            sub=user["sub"],
            namespace=user["namespace"],
            groups=frozenset(groups),
            org=user["org"],
            is_admin=bool(user["is_admin"]),
        )

    def _groups(self, conn: sa.Connection, user_pk: int) -> list[str]:
        rows = self.repo.all(t.memberships, t.memberships.c.user_pk == user_pk, conn=conn)
        return sorted(r["group_name"] for r in rows)

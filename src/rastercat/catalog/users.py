"""Users, groups and orgs, and turning a token into a :class:`Principal`."""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from rastercat.catalog.principal import Principal, namespace_of
from rastercat.catalog.tokens import USER_CREATED_CLAIM, mint_user_token, verify_user_token
from rastercat.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from rastercat.store.ports import Tx, UserRepository
from rastercat.store.read_ports import Versions
from rastercat.store.sql.repo import PRODUCT_VERSION, USER_VERSION, Repo, utcnow
from rastercat.store.sql.users import Users, member_groups

DEFAULT_TOKEN_DAYS = 90.0
"""Lifetime of new tokens unless told otherwise (``Settings.token_days``)."""
MAX_TOKEN_DAYS = 36_500.0
MAX_REMEMBERED = 4096
"""Callers a process remembers (:meth:`UserService.remembered`); all forgotten when full."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@|:+-]{0,199}$")


def _check_name(value: str, what: str) -> str:
    if not _NAME.match(value or ""):
        raise InvalidInput(
            f"{what} {value!r} is not valid: use letters, digits and _ . @ | : + - (max 200)",
            field=what,
        )
    return value


def _created_us(user: dict[str, Any]) -> int:
    """When the user row was created, in microseconds since the epoch (SQLite gives it back
    without its time zone, UTC)."""
    created: datetime = user["created"]
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (created - _EPOCH) // timedelta(microseconds=1)  # exact, unlike float seconds


class UserService:
    def __init__(
        self, repo: Repo, secret: bytes, *, token_days: float = DEFAULT_TOKEN_DAYS
    ) -> None:
        self.repo = repo
        self.users: UserRepository = Users(repo)
        self.secret = secret
        self.token_days = token_days
        # sub -> (user row, principal, versions) of callers authenticated in a snapshot.
        self._known: dict[str, tuple[dict[str, Any], Principal, Versions]] = {}

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
            if self.users.find(conn, name=name) or self.users.find(conn, sub=sub):
                raise Conflict(f"user {name!r} already exists")
            self.users.create(
                conn,
                {
                    "name": name,
                    "sub": sub,
                    "namespace": namespace_of(sub),
                    "org": org,
                    "is_admin": is_admin,
                    "tokens_valid_after": 0.0,
                    "created": utcnow(),
                },
                dict.fromkeys(groups),
            )
        return self.get_user(name)

    def get_user(self, name: str) -> dict[str, Any]:
        with self.repo.read() as conn:
            row = self.users.find(conn, name=name)
            if row is None:
                raise NotFound(f"user {name!r} not found")
            row["groups"] = self.users.groups(conn, row["pk"])
        return row

    def ensure_user(self, name: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return self.get_user(name)
        except NotFound:
            return self.add_user(name, **kwargs)

    def list_users(self) -> list[dict[str, Any]]:
        with self.repo.read() as conn:
            rows = self.users.all(conn)
            for row in rows:
                row["groups"] = self.users.groups(conn, row["pk"])
        return rows

    def remove_user(self, name: str) -> None:
        """Remove a user: their tokens stop working at once. What they own stays, owned by
        ``user:<namespace>``, so re-adding the same ``sub`` gives it back."""
        user = self.get_user(name)
        with self.repo.tx() as conn:
            self.users.delete(conn, user["pk"])

    def list_groups(self) -> dict[str, list[str]]:
        """Every group that has members, with the names of its members."""
        out: dict[str, list[str]] = {}
        with self.repo.read() as conn:
            for group, user in self.users.members(conn):
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
                    self.users.add_groups(conn, user["pk"], [g])
            self.users.remove_groups(conn, user["pk"], remove)
        return self.get_user(name)

    def set_org(self, name: str, org: str | None) -> dict[str, Any]:
        user = self.get_user(name)
        if org is not None:
            _check_name(org, "org")
        with self.repo.tx() as conn:
            self.users.update(conn, user["pk"], {"org": org})
        return self.get_user(name)

    def revoke_tokens(self, name: str) -> None:
        """Invalidate every token issued to the user so far."""
        user = self.get_user(name)
        with self.repo.tx() as conn:
            self.users.update(conn, user["pk"], {"tokens_valid_after": time.time()})

    def mint_token(self, name: str, *, days: float | None = None) -> str:
        """A new token for ``name``, valid ``days`` (default: ``token_days``)."""
        days = self.token_days if days is None else days
        if not math.isfinite(days) or not 0 < days <= MAX_TOKEN_DAYS:
            raise InvalidInput(
                f"a token's lifetime must be more than 0 and at most {MAX_TOKEN_DAYS} days",
                field="days",
            )
        user = self.get_user(name)
        # iat is in whole seconds: make sure a token minted right after a revocation is valid.
        if user["tokens_valid_after"] >= int(time.time()):
            time.sleep(max(0.0, user["tokens_valid_after"] + 1 - time.time()))
        return mint_user_token(
            self.secret, user["sub"], days=days, name=name, user_created=_created_us(user)
        )

    # authentication --------------------------------------------------------------------------
    def authenticate(self, token: str | None) -> Principal:
        claims = verify_user_token(self.secret, token)
        with self.repo.read() as conn:
            user, groups = self.users.with_groups(conn, str(claims["sub"]))
            facts = self.repo.snapshot_facts(conn)
        if user is None:
            raise Unauthenticated("the token's user is not known to this server")
        _check_claims(claims, user)
        principal = _principal(user, groups)
        if facts is not None and USER_VERSION in facts and PRODUCT_VERSION in facts:
            if len(self._known) >= MAX_REMEMBERED:
                self._known.clear()
            versions = Versions(facts[USER_VERSION], facts[PRODUCT_VERSION])
            self._known[user["sub"]] = (user, principal, versions)
        return principal

    def remembered(self, token: str | None) -> tuple[Principal, Versions] | None:
        """The caller of ``token`` as :meth:`authenticate` last found them in a snapshot, with
        the catalog's versions of that moment; ``None`` when not remembered or when the token
        fails a check (:meth:`authenticate` then says why). The token's signature, expiry,
        revocation time and user are checked as always; that the user, their groups and the
        products are still as they were is left to the database, in the statement that reads
        the answer (``Repo.guarded``)."""
        try:
            claims = verify_user_token(self.secret, token)
        except Unauthenticated:
            return None
        known = self._known.get(str(claims["sub"]))
        if known is None:
            return None
        user, principal, versions = known
        try:
            _check_claims(claims, user)
        except Unauthenticated:
            return None
        return principal, versions


def _check_claims(claims: dict[str, Any], user: dict[str, Any]) -> None:
    """That a token verified for ``user`` was not revoked nor issued to an earlier user."""
    if float(claims["iat"]) < user["tokens_valid_after"]:
        raise Unauthenticated("the token has been revoked: create a new one")
    if not _issued_to(claims, user):
        raise Unauthenticated(
            "the token was issued to an earlier user of this name: create a new one"
        )


def principal_of(conn: Tx, user: dict[str, Any]) -> Principal:
    """The principal of a user row, with its groups as they are now: one rule for a token's
    caller and for an uploader whose access is checked again later."""
    return _principal(user, member_groups(conn, user["pk"]))


def _principal(user: dict[str, Any], groups: list[str]) -> Principal:
    return Principal(
        user_pk=user["pk"],
        name=user["name"],
        sub=user["sub"],
        namespace=user["namespace"],
        groups=frozenset(groups),
        org=user["org"],
        is_admin=bool(user["is_admin"]),
    )


def _issued_to(claims: dict[str, Any], user: dict[str, Any]) -> bool:
    """Whether the token was minted for this user row, not for an earlier user of the same name
    (removed, then added again). Tokens minted before the user-created claim existed are judged
    by their issue time: not before the row was created (``iat`` is in whole seconds)."""
    created = _created_us(user)
    stamp = claims.get(USER_CREATED_CLAIM)
    if stamp is not None:
        return isinstance(stamp, int) and stamp == created
    return float(claims["iat"]) >= created // 1_000_000

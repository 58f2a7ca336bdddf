"""Signed tokens: user JWTs (HS256, ``sub``, ``exp`` and ``iat`` required) and upload capabilities."""

from __future__ import annotations

import functools
import os
import secrets
import time
from pathlib import Path
from typing import Any

import jwt

from rastercat.errors import Forbidden, Unauthenticated

ALGORITHM = "HS256"
UPLOAD_AUDIENCE = "rastercat:upload"


def load_or_create_secret(path: Path) -> bytes:
    """The server secret, generated (0600) on first start."""
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        value = secrets.token_hex(32).encode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as f:
            f.write(value)
        return value


USER_CREATED_CLAIM = "uct"
"""When the token's user was created (microseconds): a user removed and added again under the
same name is another user, and the tokens of the first are not valid for the second."""


def mint_user_token(
    secret: bytes, sub: str, *, days: float, name: str | None = None,
    user_created: int | None = None,
) -> str:  # fmt: skip
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + int(days * 86400)}
    if name:
        claims["name"] = name
    if user_created is not None:
        claims[USER_CREATED_CLAIM] = user_created
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_user_token(secret: bytes, token: str | None) -> dict[str, Any]:
    """The claims of a valid user token, or :class:`Unauthenticated` naming what is wrong.

    A token whose signature was checked once is remembered (:func:`_verified`, a few thousand
    tokens): every request of a client sends the same token, and the HMAC and JSON decoding were
    a quarter of an authenticated request's own time. Only the expiry changes with time, and it is
    checked on every call; revocation and the user's groups are looked up by the caller, always."""
    if not token:
        raise Unauthenticated("missing token: send it in the Authorization header")
    token = token.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    claims = _verified(secret, token)
    if claims["exp"] <= time.time():
        raise Unauthenticated("the token has expired: create a new one with `rastercat token`")
    return dict(claims)


@functools.lru_cache(maxsize=4096)
def _verified(secret: bytes, token: str) -> dict[str, Any]:
    """The claims of a token whose signature and claims :func:`jwt.decode` accepts (cached: the
    result of a failure is not, it raises)."""
    try:
        return jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat"]},
        )
    except jwt.ExpiredSignatureError:
        raise Unauthenticated(
            "the token has expired: create a new one with `rastercat token`"
        ) from None
    except jwt.MissingRequiredClaimError as exc:
        raise Unauthenticated(f"the token is missing the required claim '{exc.claim}'") from None
    except jwt.InvalidAlgorithmError:
        raise Unauthenticated(f"the token's algorithm is not allowed (only {ALGORITHM})") from None
    except jwt.InvalidSignatureError:
        raise Unauthenticated("the token's signature is not valid for this server") from None
    except jwt.PyJWTError as exc:
        raise Unauthenticated(f"the token is not valid: {exc}") from None


def mint_upload_token(secret: bytes, upload_uid: str, ttl: int) -> str:
    now = int(time.time())
    return jwt.encode(
        {"upl": upload_uid, "aud": UPLOAD_AUDIENCE, "iat": now, "exp": now + ttl},
        secret,
        algorithm=ALGORITHM,
    )


def verify_upload_token(secret: bytes, token: str) -> str:
    """The upload id a capability URL grants; 403 when expired or tampered with."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            audience=UPLOAD_AUDIENCE,
            options={"require": ["upl", "exp", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise Forbidden("this upload URL has expired: request a new one") from None
    except jwt.PyJWTError:
        raise Forbidden("this upload URL is not valid") from None
    return str(claims["upl"])

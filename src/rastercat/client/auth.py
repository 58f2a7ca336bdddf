"""Where the SDK finds the server and the token.

Order: explicit arguments, then ``RASTERCAT_URL`` / ``RASTERCAT_TOKEN``, then the credentials file that
``rastercat serve`` writes for the local user (``RASTERCAT_CREDENTIALS`` names another file).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rastercat.errors import Unauthenticated

DEFAULT_URL = "http://127.0.0.1:8765"


def credentials_path() -> Path:
    env = os.environ.get("RASTERCAT_CREDENTIALS")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_config_dir("rastercat", appauthor=False)) / "credentials.json"


def save_credentials(url: str, token: str, path: Path | None = None) -> Path:
    """Write the local user's credentials (mode 0600) where the SDK looks for them."""
    target = path or credentials_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url, "token": token}, f)
    os.replace(tmp, target)
    return target


def _read_credentials() -> dict[str, Any]:
    path = credentials_path()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def token_claims(token: str) -> dict[str, Any]:
    """The unverified claims of a JWT (the SDK only needs ``sub``; the server verifies)."""
    try:
        segment = token.split(".")[1]
        padded = segment + "=" * (-len(segment) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (IndexError, ValueError) as exc:
        raise Unauthenticated("the token is not a JWT (expected header.claims.signature)") from exc
    if not isinstance(claims, dict):
        raise Unauthenticated("the token's claims are not a JSON object")
    return claims


def namespace_of(sub: str) -> str:
    """A user's namespace: the hex SHA-1 of the token's ``sub`` (as the platform defines it)."""
    return hashlib.sha1(sub.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str

    @property
    def claims(self) -> dict[str, Any]:
        return token_claims(self.token)

    @property
    def sub(self) -> str:
        try:
            return str(self.claims["sub"])
        except KeyError:
            raise Unauthenticated("the token has no 'sub' claim") from None

    @property
    def namespace(self) -> str:
        return namespace_of(self.sub)


def resolve_credentials(url: str | None = None, token: str | None = None) -> Credentials:
    saved: dict[str, Any] | None = None
    if url is None:
        url = os.environ.get("RASTERCAT_URL")
    if token is None:
        token = os.environ.get("RASTERCAT_TOKEN")
    if url is None or token is None:
        saved = _read_credentials()
        url = url or saved.get("url")
        token = token or saved.get("token")
    if not token:
        raise Unauthenticated(
            "no token: set RASTERCAT_TOKEN, pass token=..., or run `rastercat serve` once on this "
            f"machine (it saves the local user's token to {credentials_path()})"
        )
    return Credentials(url=(url or DEFAULT_URL).rstrip("/"), token=token)

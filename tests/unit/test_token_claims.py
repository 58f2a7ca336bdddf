"""User tokens: a token whose signature was checked is remembered, but its expiry is checked on
every use, and nothing about a bad token is remembered."""

from __future__ import annotations

import time

import jwt
import pytest

from rastercat.catalog import tokens
from rastercat.catalog.tokens import mint_user_token, verify_user_token
from rastercat.errors import Unauthenticated

SECRET = b"s" * 32


def test_a_remembered_token_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    token = mint_user_token(SECRET, "sub-1", days=1)
    assert verify_user_token(SECRET, token)["sub"] == "sub-1"
    assert verify_user_token(SECRET, f"Bearer {token}")["sub"] == "sub-1"  # remembered now
    later = time.time() + 2 * 86400
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_user_token(SECRET, token)


def test_a_remembered_token_is_only_valid_for_its_secret() -> None:
    token = mint_user_token(SECRET, "sub-1", days=1)
    verify_user_token(SECRET, token)
    with pytest.raises(Unauthenticated, match="signature"):
        verify_user_token(b"t" * 32, token)


def test_callers_get_their_own_claims() -> None:
    token = mint_user_token(SECRET, "sub-2", days=1)
    verify_user_token(SECRET, token)["sub"] = "someone else"
    assert verify_user_token(SECRET, token)["sub"] == "sub-2"


def test_a_refused_token_is_refused_again() -> None:
    now = int(time.time())
    forged = jwt.encode({"sub": "x", "iat": now, "exp": now + 60}, b"other" * 8, algorithm="HS256")
    for _ in range(2):
        with pytest.raises(Unauthenticated, match="signature"):
            verify_user_token(SECRET, forged)

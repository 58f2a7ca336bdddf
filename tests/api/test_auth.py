"""Tokens: every bad token is a 401 with a clear message; another user's things are 404."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest

from api.conftest import BLUE, CAT, error_detail


def _b64(d: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()


@pytest.fixture
def secret(live_server) -> bytes:
    return live_server.state.secret


def _get(live_server, token: str | None) -> httpx.Response:
    headers = {} if token is None else {"Authorization": token}
    return httpx.get(f"{live_server.url}{CAT}/products/x", headers=headers)


def test_no_token(live_server):
    r = _get(live_server, None)
    assert r.status_code == 401
    assert "missing token" in error_detail(r)


def test_bad_signature(live_server):
    token = jwt.encode(
        {"sub": "alice", "exp": time.time() + 999},
        b"not-the-secret-of-this-server-xx",
        algorithm="HS256",
    )
    r = _get(live_server, token)
    assert r.status_code == 401 and "signature" in error_detail(r)


def test_alg_none(live_server):
    token = (
        _b64({"alg": "none", "typ": "JWT"})
        + "."
        + _b64({"sub": "alice", "exp": time.time() + 999})
        + "."
    )
    r = _get(live_server, token)
    assert r.status_code == 401
    assert "algorithm" in error_detail(r) or "not valid" in error_detail(r)


def test_expired(live_server, secret):
    now = int(time.time())
    token = jwt.encode({"sub": "alice", "iat": now - 99, "exp": now - 10}, secret, "HS256")
    r = _get(live_server, token)
    assert r.status_code == 401 and "expired" in error_detail(r)


def test_missing_exp(live_server, secret):
    token = jwt.encode({"sub": "alice"}, secret, algorithm="HS256")
    r = _get(live_server, token)
    assert r.status_code == 401 and "exp" in error_detail(r)


def test_missing_iat(live_server, secret):
    """Without its issue time a token cannot be told from one revoked or of an earlier user."""
    token = jwt.encode({"sub": "alice", "exp": int(time.time()) + 99}, secret, algorithm="HS256")
    r = _get(live_server, token)
    assert r.status_code == 401 and "'iat'" in error_detail(r)


def test_unknown_user(live_server, secret):
    now = int(time.time())
    token = jwt.encode({"sub": "mallory", "iat": now, "exp": now + 99}, secret, "HS256")
    r = _get(live_server, token)
    assert r.status_code == 401 and "not known" in error_detail(r)


def test_not_a_jwt(live_server):
    assert _get(live_server, "hello").status_code == 401


def test_bearer_prefix_is_accepted(live_server):
    r = httpx.get(
        f"{live_server.url}/whoami",
        headers={"Authorization": "Bearer " + live_server.token("alice")},
    )
    assert r.status_code == 200 and r.json()["name"] == "alice"


def test_revoked_token(live_server):
    live_server.state.users.add_user("revokee")
    old = live_server.state.users.mint_token("revokee")
    assert httpx.get(f"{live_server.url}/whoami", headers={"Authorization": old}).status_code == 200
    live_server.state.users.revoke_tokens("revokee")
    r = httpx.get(f"{live_server.url}/whoami", headers={"Authorization": old})
    assert r.status_code == 401 and "revoked" in error_detail(r)
    new = live_server.state.users.mint_token("revokee")
    assert httpx.get(f"{live_server.url}/whoami", headers={"Authorization": new}).status_code == 200


def test_other_users_objects_are_404(alice, bob, product, band):
    assert bob.get(f"{CAT}/products/{product}").status_code == 404
    assert bob.get(f"{CAT}/products/{product}/bands/blue").status_code == 404
    assert bob.patch(f"{CAT}/products/{product}", json={"notes": "x"}).status_code == 404
    assert (
        bob.post(f"{CAT}/products/{product}/bands", json={**BLUE, "name": "red"}).status_code == 404
    )
    assert bob.delete(f"{CAT}/products/{product}", params={"cascade": "True"}).status_code == 404
    assert bob.post(f"{CAT}/products/{product}/images/upload/x.tif", json={}).status_code == 404
    assert alice.get(f"{CAT}/products/{product}").status_code == 200
    mine = [p["id"] for p in bob.post("/metadata/v1/products/search", json={}).json()]
    assert product not in mine

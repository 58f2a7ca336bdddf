"""Hostile requests against authentication: oversized bodies, local sign-in, tokens.

Bodies: FastAPI reads and parses a JSON body before the token check runs, so an anonymous client
could make the server hold any amount of memory. Every body but an upload's is capped (413),
before a byte of it is read.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from rastercat.config import Settings

CAT = "/metadata/v1/catalog"
MIB = 2**20
BIG = 64 * MIB
DEFAULT_CAP = 4 * MIB
"""The default of ``limits.max_request_body_bytes`` (the test servers keep it)."""


def _rss() -> int:
    """Resident memory of this process, which runs the test server too (bytes)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class PeakRSS:
    """The highest resident memory seen while the block runs (sampled every few ms)."""

    def __init__(self) -> None:
        self.peak = self.before = 0
        self._stop = threading.Event()

    def __enter__(self) -> PeakRSS:
        self.before = self.peak = _rss()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.003):
            self.peak = max(self.peak, _rss())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def growth(self) -> int:
        return self.peak - self.before


def _json_chunks(total: int, chunk: int = MIB) -> Iterator[bytes]:
    """A valid JSON object of ``total`` bytes, in chunks (the same buffer again and again)."""
    head, tail = b'{"x": "', b'"}'
    yield head
    filler = b"a" * chunk
    left = total - len(head) - len(tail)
    while left > 0:
        yield filler[: min(chunk, left)]
        left -= chunk
    yield tail


def _raw_request(url: str, head: str, timeout: float) -> bytes:
    """Send only the request line and headers; return what the server answers meanwhile."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as s:
        s.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            more = s.recv(65536)
            if not more:
                break
            data += more
        return data


def test_a_declared_oversized_body_is_refused_before_it_is_sent(live_server: Any) -> None:
    host = urlsplit(live_server.url).netloc
    started = time.monotonic()
    answer = _raw_request(
        live_server.url,
        f"POST /metadata/v1/search HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {BIG}\r\n\r\n",
        timeout=5,  # the old server waited for all 64 MiB: the read timed out
    )
    assert time.monotonic() - started < 5
    status_line, _, rest = answer.partition(b"\r\n")
    assert b" 413 " in status_line, answer[:200]
    assert b'"PayloadTooLarge"' in rest and b"max_request_body_bytes".upper() in rest.upper()


def test_a_huge_anonymous_body_answers_413_without_the_server_growing(live_server: Any) -> None:
    started = time.monotonic()
    with httpx.Client(base_url=live_server.url, timeout=60) as c, PeakRSS() as mem:
        try:
            r = c.post(
                "/metadata/v1/search",
                content=_json_chunks(BIG),
                headers={"Content-Type": "application/json", "Content-Length": str(BIG)},
            )
            status: int | None = r.status_code
            assert r.json()["errors"][0]["title"] == "PayloadTooLarge"
        except httpx.TransportError:
            status = None  # the server closed the connection on a body it will not read
    # Before the cap, the server read (64 MiB) and parsed the body, then answered 401.
    assert status in (413, None)
    assert time.monotonic() - started < 15  # measured: well under a second
    assert mem.growth < 24 * MIB, f"the process grew by {mem.growth / MIB:.0f} MiB"


def test_a_chunked_body_over_the_cap_is_cut_off(live_server: Any) -> None:
    with live_server.client("alice") as c, PeakRSS() as mem:
        r = c.post(
            "/metadata/v1/search",
            content=_json_chunks(4 * DEFAULT_CAP, chunk=64 * 1024),  # no Content-Length: chunked
            headers={"Content-Type": "application/json"},
        )
    assert r.status_code == 413, r.text
    assert r.json()["errors"][0]["title"] == "PayloadTooLarge"
    assert mem.growth < 24 * MIB
    # A chunked body under the cap is read as usual.
    with live_server.client("alice") as c:
        r = c.post(
            "/metadata/v1/search",
            content=iter([b'{"lim', b'it": 1}']),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 200, r.text


def test_a_body_at_the_cap_is_accepted(live_server: Any) -> None:
    cap = live_server.settings.limits.max_request_body_bytes
    assert cap == DEFAULT_CAP
    body = b'{"limit": 1' + b" " * (cap - 12) + b"}"  # JSON whitespace, to the byte
    assert len(body) == cap
    with live_server.client("alice") as c:
        r = c.post(
            "/metadata/v1/search", content=body, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 200, r.text


def test_upload_bodies_are_not_capped(live_server: Any) -> None:
    """PUT /uploads/{token} streams to storage under its own limit (max_upload_bytes)."""
    c = live_server.client("alice")
    pid = c.post(
        f"{CAT}/products",
        json={"id": f"big-{uuid.uuid4().hex[:8]}", "title": "T", "description": "D"},
    ).json()["data"]["id"]
    url = c.post(
        f"{CAT}/products/{pid}/images/upload/big.tif",
        json={"process_controls": {"upload_type": "file"}},
    ).text
    size = DEFAULT_CAP + 2 * MIB
    r = httpx.put(url, content=b"\0" * size, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json()["size"] == size


# local sign-in ----------------------------------------------------------------------------------
def _serve_like(server: Any) -> str:
    """What ``rastercat serve`` leaves for the viewer: the local user's saved token."""
    token = server.token("local")
    (server.settings.data_dir / "local-credentials.json").write_text(
        json.dumps({"url": server.url, "token": token})
    )
    return token


def test_local_sign_in_is_off_unless_enabled(server_factory: Any) -> None:
    """Behind a reverse proxy on the same machine every visitor is a loopback client: the token
    of the local user must not be handed out by default."""
    server = server_factory()
    _serve_like(server)
    with httpx.Client(base_url=server.url) as c:
        r = c.get("/viewer/v1/local-token")
        assert r.status_code == 404 and "token" not in r.json()


def test_local_sign_in_when_enabled_only_for_unproxied_local_requests(
    server_factory: Any,
) -> None:
    server = server_factory(local_signin=True)
    token = _serve_like(server)
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/viewer/v1/local-token").json() == {"token": token}
        for header, value in [
            ("X-Forwarded-For", "203.0.113.9"),
            ("Forwarded", "for=203.0.113.9"),
            ("X-Real-IP", "203.0.113.9"),
            ("X-Forwarded-Host", "maps.example"),
            ("Via", "1.1 proxy"),
        ]:
            r = c.get("/viewer/v1/local-token", headers={header: value})
            assert r.status_code == 404, header
        r = c.get("/viewer/v1/local-token", headers={"Host": "maps.example"})
        assert r.status_code == 404


def test_serve_enables_local_sign_in_only_on_a_loopback_address(
    tmp_path: Path, monkeypatch: Any
) -> None:
    from rastercat.cli.serve import local_signin_default
    from rastercat.config import load_settings

    monkeypatch.delenv("RASTERCAT_LOCAL_SIGNIN", raising=False)
    assert Settings(data_dir=tmp_path).local_signin is False
    for host, expected in [("127.0.0.1", True), ("::1", True), ("localhost", True),
                           ("127.0.0.2", True), ("0.0.0.0", False), ("::", False),
                           ("192.0.2.10", False), ("example.org", False)]:  # fmt: skip
        assert local_signin_default(load_settings(host=host, data_dir=tmp_path)) is expected, host
    # An operator behind a proxy turns it off; one who knows better turns it on.
    monkeypatch.setenv("RASTERCAT_LOCAL_SIGNIN", "false")
    assert local_signin_default(load_settings(host="127.0.0.1", data_dir=tmp_path)) is False
    monkeypatch.setenv("RASTERCAT_LOCAL_SIGNIN", "true")
    assert local_signin_default(load_settings(host="0.0.0.0", data_dir=tmp_path)) is True


# tokens -----------------------------------------------------------------------------------------
def test_a_token_in_the_url_is_accepted_only_by_tile_and_tilejson_routes(live_server: Any) -> None:
    token = live_server.token("alice")
    pid = (
        live_server.client("alice")
        .post(
            f"{CAT}/products",
            json={"id": f"q-{uuid.uuid4().hex[:8]}", "title": "T", "description": "D"},
        )
        .json()["data"]["id"]
    )
    q = {"token": token}
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        for method, path in [
            ("GET", "/whoami"),
            ("GET", "/metadata/v1/products"),
            ("GET", f"{CAT}/products/{pid}"),
            ("POST", "/metadata/v1/search"),
            ("POST", "/metadata/v1/summary"),
            ("GET", "/viewer/v1/uploads/recent"),
        ]:
            r = c.request(method, path, params=q, json={} if method == "POST" else None)
            assert r.status_code == 401, (method, path, r.status_code)
            assert "Authorization header" in r.json()["errors"][0]["detail"]
        # Web maps cannot send headers for <img> tiles: there the token may ride in the URL.
        r = c.get(f"/tiles/v1/products/{pid}/tilejson.json", params=q)
        assert r.status_code == 200, r.text
        assert f"token={token}" in r.json()["tiles"][0]
        # (a product with no bands: past authentication, the tile route asks for bands)
        r = c.get(f"/tiles/v1/products/{pid}/0/0/0.png", params=q)
        assert r.status_code == 400 and "band" in r.text, r.text
        assert c.get(f"/tiles/v1/products/{pid}/0/0/0.png").status_code == 401


def test_new_tokens_live_token_days(server_factory: Any) -> None:
    import jwt

    server = server_factory(token_days=2)
    claims = jwt.decode(server.token("alice"), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 2 * 86400
    assert Settings().token_days == 90


def test_the_tokens_of_a_removed_user_stay_invalid_when_the_name_is_added_again(
    live_server: Any,
) -> None:
    users = live_server.state.users
    name = f"ghost-{uuid.uuid4().hex[:6]}"
    users.add_user(name)
    old = users.mint_token(name)
    assert users.authenticate(old).name == name
    users.remove_user(name)
    users.add_user(name)  # within the same second: the issue time alone cannot tell them apart
    with httpx.Client(base_url=live_server.url) as c:
        r = c.get("/whoami", headers={"Authorization": old})
        assert r.status_code == 401
        assert "earlier user of this name" in r.json()["errors"][0]["detail"]
        r = c.get("/whoami", headers={"Authorization": users.mint_token(name)})
        assert r.status_code == 200 and r.json()["name"] == name

"""Hostile search bodies: pathological ``like`` patterns, numbers past every range, counts past
every cap. Each answers fast, and with a 400 naming the field rather than a 500."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from helpers import wait_for
from metadata.conftest import CAT, META

BIN = Path(sys.executable).parent
PATHOLOGICAL = "%a%a%a%a%a%a%a%a%c"
"""As a backtracking regex (``.*a.*a...c``) against a long run of ``a``: years of work."""


# like patterns, against a server in a process of its own -------------------------------------
# A backtracking regex holds the GIL for the whole match: an in-process server would freeze the
# test with it. A separate process can be timed out, then killed.
@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("like")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASTERCAT_")} | {
        "HOME": str(tmp / "home"),
        "RASTERCAT_CREDENTIALS": str(tmp / "cred.json"),
    }
    data = tmp / "data"
    cmd = [str(BIN / "rastercat"), "serve", "--port", str(port), "--data-dir", str(data),
           "--no-workers", "--log-level", "warning"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, timeout=60, interval=0.1, what="rastercat serve to answer")
        token = json.loads((data / "local-credentials.json").read_text())["token"]
        yield url, token
    finally:
        proc.kill()  # a server stuck in a regex does not answer SIGINT
        proc.wait(30)


def test_pathological_like_patterns_answer_fast(own_server: tuple[str, str]) -> None:
    url, token = own_server
    with httpx.Client(base_url=url, headers={"Authorization": token}, timeout=10) as c:
        pid = c.post(
            f"{CAT}/products", json={"id": "likes", "title": "T", "description": "D"}
        ).json()["data"]["id"]
        key = "a" * 300
        r = c.post(
            f"{CAT}/products/{pid}/images",
            json={"id": key, "extra_properties": {"blob": "a" * 10_000}},
        )
        assert r.status_code == 201, r.text
        for prop in ("key", "blob"):
            started = time.monotonic()
            body = {"products": [pid], "query_expr": {"like": {prop: PATHOLOGICAL}}}
            # The old matcher never answered: the read times out and the test fails.
            r = c.post(f"{META}/search", json=body, timeout=10)
            assert r.status_code == 200 and r.json() == [], r.text
            r = c.post(f"{META}/summary", json=body, timeout=10)
            assert r.status_code == 200 and r.json()["count"] == 0, r.text
            assert time.monotonic() - started < 5, prop
            # Patterns that do match still do.
            for pattern in ("%a%a%a%a%a%a%a%a%", "a%a", "%" + "a_" * 20 + "%", "a" * 300):
                body = {"products": [pid], "query_expr": {"like": {prop: pattern}}}
                r = c.post(f"{META}/search", json=body)
                whole = pattern == "a" * 300  # no wildcard: the whole value
                expected = [] if whole and prop == "blob" else [f"{pid}:{key}"]
                assert [f["id"] for f in r.json()] == expected, (prop, pattern)


def test_like_patterns_and_expressions_are_bounded(seeded: dict[str, Any]) -> None:
    c: httpx.Client = seeded["client"]
    pid = seeded["pid"]
    too_long = {"like": {"key": "%" * 1_001}}
    deep: Any = {"eq": {"key": "a"}}
    for _ in range(40):
        deep = {"and": [deep]}
    many = {"in": {"key": [str(i) for i in range(20_001)]}}
    for expr, words in ((too_long, "1000 characters"), (deep, "32 levels"), (many, "at most")):
        for route in ("search", "summary"):
            r = c.post(f"{META}/{route}", json={"products": [pid], "query_expr": expr})
            assert r.status_code == 400, r.text
            err = r.json()["errors"][0]
            assert err["source"]["pointer"] == "query_expr" and words in err["detail"]
    # At the caps, fine.
    r = c.post(
        f"{META}/search", json={"products": [pid], "query_expr": {"like": {"key": "%" * 1000}}}
    )
    assert r.status_code == 200 and len(r.json()) == 5


# numbers out of range -----------------------------------------------------------------------
HUGE = "100000000000000000000000000000"
"""An integer JSON allows and SQLite cannot hold (OverflowError before: a 500)."""


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('"cloud_fraction": Infinity', "cloud_fraction"),
        ('"cloud_fraction": 1e400', "cloud_fraction"),
        (f'"cloud_fraction": {HUGE}', "cloud_fraction"),
        (f'"fill_fraction": {HUGE}', "fill_fraction"),
        ('"fill_fraction": NaN', "fill_fraction"),
        ('"query_expr": {"range": {"score": {"gt": Infinity}}}', "query_expr"),
        (f'"query_expr": {{"range": {{"score": {{"lt": {HUGE}}}}}}}', "query_expr"),
        (f'"query_expr": {{"eq": {{"score": -{HUGE}}}}}', "query_expr"),
        ('"query_expr": {"in": {"score": [1, NaN]}}', "query_expr"),
        (f'"offset": {HUGE}', "offset"),
        ('"offset": 1000000001', "offset"),
        ('"offset": Infinity', "offset"),
        ('"limit": Infinity', "limit"),
        ('"limit": 10001', "limit"),
        (f'"products": {json.dumps([f"p{i}" for i in range(10_001)])}', "products"),
        (f'"sat_ids": {json.dumps([f"s{i}" for i in range(10_001)])}', "sat_ids"),
    ],
)
def test_numbers_and_counts_past_their_range_are_400_naming_the_field(
    seeded: dict[str, Any], raw: str, field: str
) -> None:
    c: httpx.Client = seeded["client"]
    routes = ("search",) if field in ("offset", "limit") else ("search", "summary")
    for route in routes:
        r = c.post(
            f"{META}/{route}",
            content="{" + raw + "}",
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 400, (route, r.status_code, r.text)
        assert r.json()["errors"][0]["source"]["pointer"] == field


def _retoken(token: str, **changes: Any) -> str:
    data = json.loads(base64.urlsafe_b64decode(token))
    data.update(changes)
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize("sort_field", [None, "id"])  # keyset and offset tokens
def test_forged_continuation_tokens_are_400(seeded: dict[str, Any], sort_field: str | None) -> None:
    c: httpx.Client = seeded["client"]
    body: dict[str, Any] = {"products": [seeded["pid"]], "limit": 1}
    if sort_field:
        body["sort_field"] = sort_field
    r = c.post(f"{META}/search", json=body)
    token = r.headers["X-Continuation-Token"]
    assert token
    if sort_field:  # an offset token
        forged = [_retoken(token, o=v) for v in (float("inf"), int(HUGE), -5, True, 1e9 + 1)]
    else:  # a keyset token: the last row's (acquired, pk)
        keys: list[Any] = [[1e308, 2**70], [None, 2**64], [float("inf"), 1], [1.0], "x"]
        forged = [_retoken(token, k=k) for k in keys]
    forged.append(base64.urlsafe_b64encode(b"[1, 2]").decode())
    for bad in forged:
        r = c.post(f"{META}/search", json={**body, "continuation_token": bad})
        assert r.status_code == 400, (bad, r.status_code, r.text)
        assert r.json()["errors"][0]["source"]["pointer"] == "continuation_token"
    # The genuine token still pages.
    r = c.post(f"{META}/search", json={**body, "continuation_token": token})
    assert r.status_code == 200 and len(r.json()) == 1


def test_listing_counts_are_capped(seeded: dict[str, Any]) -> None:
    c: httpx.Client = seeded["client"]
    for route in ("products/search", "bands/search"):
        for raw, field in ((f'"offset": {HUGE}', "offset"), ('"limit": Infinity', "limit"),
                           ('"limit": true', "limit")):  # fmt: skip
            r = c.post(
                f"{META}/{route}",
                content="{" + raw + "}",
                headers={"Content-Type": "application/json"},
            )
            assert r.status_code == 400, (route, raw, r.text)
            assert r.json()["errors"][0]["source"]["pointer"] == field
    r = c.post(f"{META}/batch/images", json={"ids": [f"x{i}" for i in range(10_001)]})
    assert r.status_code == 400 and r.json()["errors"][0]["source"]["pointer"] == "ids"
    r = c.post(f"{META}/batch/images", json={"ids": [seeded["ids"]["a"]]})
    assert r.status_code == 200 and len(r.json()) == 1

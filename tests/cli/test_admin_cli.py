"""`rastercat users`, `groups` and `token`, run with click's CliRunner on a data dir of the test's own;
the tokens they print are then used against a real server on the same data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from click.testing import CliRunner, Result

from helpers import wait_for
from rastercat.cli.main import cli


@pytest.fixture
def run(tmp_path: Path) -> Any:
    data_dir = tmp_path / "data"

    def invoke(*args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(cli, [*args, "--data-dir", str(data_dir)])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    invoke.data_dir = data_dir  # type: ignore[attr-defined]
    return invoke


def _whoami(server: Any, token: str) -> httpx.Response:
    return httpx.get(f"{server.url}/whoami", headers={"Authorization": token}, timeout=30)


def test_users_groups_orgs_and_tokens(run: Any, server_factory: Any) -> None:
    out = run("users", "add", "ann", "--group", "team", "--org", "acme").output
    assert out.startswith("added user ann (namespace ")
    run("users", "add", "ben")
    run("groups", "add", "analysts", "ann", "ben")
    run("groups", "remove", "team", "ann")
    run("users", "set-org", "ben", "initech")
    listing = run("users", "list").output.splitlines()
    assert len(listing) == 2
    assert listing[0].startswith("ann\t") and "groups=analysts" in listing[0]
    assert "org=acme" in listing[0]
    assert listing[1].startswith("ben\t") and "org=initech" in listing[1]
    assert run("groups", "list").output.splitlines() == ["analysts\tann,ben"]

    token = run("token", "ann").output.strip()
    assert token.count(".") == 2 and "\n" not in token  # a bare JWT, for scripts
    server = server_factory(run.data_dir)
    me = _whoami(server, token).json()
    assert me["name"] == "ann" and me["groups"] == ["analysts"] and me["org"] == "acme"
    assert "org:acme" in me["principals"] and "group:analysts" in me["principals"]

    # Changes made by the CLI while the server runs apply to the server's next request.
    run("groups", "add", "night-shift", "ann")
    run("users", "set-org", "ann")
    me = _whoami(server, token).json()
    assert me["groups"] == ["analysts", "night-shift"] and me["org"] is None


def test_revoke_and_remove(run: Any, server_factory: Any) -> None:
    run("users", "add", "cat")
    old = run("token", "cat").output.strip()
    server = server_factory(run.data_dir)
    assert _whoami(server, old).status_code == 200
    assert run("users", "revoke", "cat").output.strip() == "revoked all tokens of cat"
    r = _whoami(server, old)
    assert r.status_code == 401 and "revoked" in r.json()["errors"][0]["detail"]
    new = run("token", "cat").output.strip()
    assert _whoami(server, new).status_code == 200
    run("users", "remove", "cat")
    assert _whoami(server, new).status_code == 401
    assert "cat" not in run("users", "list").output


def test_short_lived_token_expires(run: Any, server_factory: Any) -> None:
    run("users", "add", "dan")
    token = run("token", "dan", "--days", "0.00001").output.strip()  # about a second
    server = server_factory(run.data_dir)
    r = wait_for(
        lambda: (x := _whoami(server, token)).status_code == 401 and x, timeout=10, what="expiry"
    )
    assert "expired" in r.json()["errors"][0]["detail"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("users", "add", "bad name"), "is not valid"),
        (("users", "add", "eve", "--group", "bad group"), "is not valid"),
        (("users", "revoke", "nobody"), "user 'nobody' not found"),
        (("users", "remove", "nobody"), "user 'nobody' not found"),
        (("users", "set-org", "nobody", "acme"), "user 'nobody' not found"),
        (("groups", "add", "g", "nobody"), "user 'nobody' not found"),
        (("token", "nobody"), "user 'nobody' not found"),
        (("token", "eve", "--days", "0"), "must be positive"),
        (("token", "eve", "--days", "inf"), "must be positive"),
    ],
)
def test_errors_are_clear(run: Any, args: tuple[str, ...], message: str) -> None:
    result = run(*args, ok=False)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_adding_a_user_twice_is_refused(run: Any) -> None:
    run("users", "add", "fay")
    result = run("users", "add", "fay", ok=False)
    assert result.exit_code == 1 and "already exists" in result.output


def _lifetime_days(token: str) -> float:
    claims = jwt.decode(token, options={"verify_signature": False})
    return (claims["exp"] - claims["iat"]) / 86400


def test_token_lifetime_is_a_setting_and_days_overrides_it(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RASTERCAT_TOKEN_DAYS", raising=False)
    run("users", "add", "gus")
    assert _lifetime_days(run("token", "gus").output.strip()) == 90  # no longer ten years
    monkeypatch.setenv("RASTERCAT_TOKEN_DAYS", "7")
    assert _lifetime_days(run("token", "gus").output.strip()) == 7
    assert _lifetime_days(run("token", "gus", "--days", "30").output.strip()) == 30
    assert run("token", "gus", "--days", "1e9", ok=False).exit_code == 1


def test_a_removed_user_added_again_does_not_get_the_old_tokens_back(
    run: Any, server_factory: Any
) -> None:
    run("users", "add", "hal")
    old = run("token", "hal").output.strip()
    server = server_factory(run.data_dir)
    assert _whoami(server, old).status_code == 200
    run("users", "remove", "hal")
    run("users", "add", "hal")
    r = _whoami(server, old)
    assert r.status_code == 401, r.text
    assert "earlier user of this name" in r.json()["errors"][0]["detail"]
    assert _whoami(server, run("token", "hal").output.strip()).json()["name"] == "hal"

"""Local administration: users, groups, orgs and tokens, straight on the data directory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import click

from rastercat.cli.options import data_dir_option
from rastercat.errors import RastercatError


@contextlib.contextmanager
def open_users(data_dir: Path | None) -> Iterator[object]:
    from rastercat.api.state import AppState
    from rastercat.config import load_settings

    state = AppState.open(load_settings(data_dir=data_dir))
    try:
        yield state.users
    except RastercatError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        state.close()


@click.group()
def users() -> None:
    """Manage users."""


@users.command("add")
@click.argument("name")
@click.option("--group", "groups", multiple=True, help="A group to put the user in (repeatable).")
@click.option("--org", default=None, help="The user's organization.")
@click.option("--admin", is_flag=True, help="The user may read and change everything.")
@data_dir_option
def users_add(
    name: str, groups: tuple[str, ...], org: str | None, admin: bool, data_dir: Path | None
) -> None:
    """Add a user NAME."""
    with open_users(data_dir) as svc:
        user = svc.add_user(name, groups=groups, org=org, is_admin=admin)  # type: ignore[attr-defined]
    click.echo(f"added user {user['name']} (namespace {user['namespace']})")


@users.command("list")
@data_dir_option
def users_list(data_dir: Path | None) -> None:
    """List users with their namespace, groups and org."""
    with open_users(data_dir) as svc:
        rows = svc.list_users()  # type: ignore[attr-defined]
    for u in rows:
        groups = ",".join(u["groups"]) or "-"
        click.echo(f"{u['name']}\t{u['namespace']}\tgroups={groups}\torg={u['org'] or '-'}")


@users.command("revoke")
@click.argument("name")
@data_dir_option
def users_revoke(name: str, data_dir: Path | None) -> None:
    """Invalidate every token issued to NAME so far."""
    with open_users(data_dir) as svc:
        svc.revoke_tokens(name)  # type: ignore[attr-defined]
    click.echo(f"revoked all tokens of {name}")


@users.command("set-org")
@click.argument("name")
@click.argument("org", required=False)
@data_dir_option
def users_set_org(name: str, org: str | None, data_dir: Path | None) -> None:
    """Set (or, without ORG, clear) the organization of NAME."""
    with open_users(data_dir) as svc:
        svc.set_org(name, org)  # type: ignore[attr-defined]
    click.echo(f"{name}: org={org or '-'}")


@click.group()
def groups() -> None:
    """Manage group membership."""


@groups.command("add")
@click.argument("group")
@click.argument("names", nargs=-1, required=True)
@data_dir_option
def groups_add(group: str, names: tuple[str, ...], data_dir: Path | None) -> None:
    """Put users NAMES into GROUP."""
    with open_users(data_dir) as svc:
        for n in names:
            svc.set_groups(n, add=(group,))  # type: ignore[attr-defined]
    click.echo(f"added {', '.join(names)} to {group}")


@groups.command("remove")
@click.argument("group")
@click.argument("names", nargs=-1, required=True)
@data_dir_option
def groups_remove(group: str, names: tuple[str, ...], data_dir: Path | None) -> None:
    """Take users NAMES out of GROUP."""
    with open_users(data_dir) as svc:
        for n in names:
            svc.set_groups(n, remove=(group,))  # type: ignore[attr-defined]
    click.echo(f"removed {', '.join(names)} from {group}")


@click.command()
@click.argument("name")
@click.option(
    "--days", type=float, default=3650, show_default=True, help="Days until the token expires."
)
@data_dir_option
def token(name: str, days: float, data_dir: Path | None) -> None:
    """Print a new token for user NAME (and nothing else, for scripts)."""
    if days <= 0:
        raise click.BadParameter("must be positive", param_hint="--days")
    with open_users(data_dir) as svc:
        click.echo(svc.mint_token(name, days=days))  # type: ignore[attr-defined]

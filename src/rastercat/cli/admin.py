"""Local administration: users, groups, orgs and tokens, straight on the data directory.

These commands open the database directly (no server needed, and none is disturbed: every
change is a transaction, and servers read memberships and revocations on every request).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from rastercat.cli.options import data_dir_option
from rastercat.errors import RastercatError

if TYPE_CHECKING:
    from rastercat.catalog.users import UserService


@contextlib.contextmanager
def open_users(data_dir: Path | None) -> Iterator[UserService]:
    """The user service of the data directory; domain errors become clean CLI errors."""
    from rastercat.config import load_settings
    from rastercat.wiring import build

    core = build(load_settings(data_dir=data_dir), role="cli")
    try:
        yield core.users
    except RastercatError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        core.close()


@click.group()
def users() -> None:
    """Manage users (and their organization and tokens)."""


@users.command("add")
@click.argument("name")
@click.option("--group", "groups", multiple=True, help="A group to put the user in (repeatable).")
@click.option("--org", default=None, help="The user's organization.")
@click.option(
    "--sub", default=None, help="The identity the namespace is derived from (default NAME)."
)
@click.option("--admin", is_flag=True, help="The user may read and change everything.")
@data_dir_option
def users_add(
    name: str,
    groups: tuple[str, ...],
    org: str | None,
    sub: str | None,
    admin: bool,
    data_dir: Path | None,
) -> None:
    """Add a user NAME."""
    with open_users(data_dir) as svc:
        user = svc.add_user(name, groups=groups, org=org, sub=sub, is_admin=admin)
    click.echo(f"added user {user['name']} (namespace {user['namespace']})")


@users.command("list")
@data_dir_option
def users_list(data_dir: Path | None) -> None:
    """List users with their namespace, groups and org."""
    with open_users(data_dir) as svc:
        rows = svc.list_users()
    for u in rows:
        groups = ",".join(u["groups"]) or "-"
        admin = "\tadmin" if u["is_admin"] else ""
        click.echo(f"{u['name']}\t{u['namespace']}\tgroups={groups}\torg={u['org'] or '-'}{admin}")


@users.command("remove")
@click.argument("name")
@data_dir_option
def users_remove(name: str, data_dir: Path | None) -> None:
    """Remove user NAME; their tokens stop working. What they own is kept."""
    with open_users(data_dir) as svc:
        svc.remove_user(name)
    click.echo(f"removed user {name}")


@users.command("revoke")
@click.argument("name")
@data_dir_option
def users_revoke(name: str, data_dir: Path | None) -> None:
    """Invalidate every token issued to NAME so far."""
    with open_users(data_dir) as svc:
        svc.revoke_tokens(name)
    click.echo(f"revoked all tokens of {name}")


@users.command("set-org")
@click.argument("name")
@click.argument("org", required=False)
@data_dir_option
def users_set_org(name: str, org: str | None, data_dir: Path | None) -> None:
    """Set (or, without ORG, clear) the organization of NAME."""
    with open_users(data_dir) as svc:
        svc.set_org(name, org)
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
            svc.set_groups(n, add=(group,))
    click.echo(f"added {', '.join(names)} to {group}")


@groups.command("remove")
@click.argument("group")
@click.argument("names", nargs=-1, required=True)
@data_dir_option
def groups_remove(group: str, names: tuple[str, ...], data_dir: Path | None) -> None:
    """Take users NAMES out of GROUP."""
    with open_users(data_dir) as svc:
        for n in names:
            svc.set_groups(n, remove=(group,))
    click.echo(f"removed {', '.join(names)} from {group}")


@groups.command("list")
@data_dir_option
def groups_list(data_dir: Path | None) -> None:
    """List groups with their members."""
    with open_users(data_dir) as svc:
        listing = svc.list_groups()
    for group, members in listing.items():
        click.echo(f"{group}\t{','.join(members)}")


@click.command()
@click.argument("name")
@click.option(
    "--days",
    type=float,
    default=None,
    help="Days until the token expires (default: RASTERCAT_TOKEN_DAYS, 90).",
)
@data_dir_option
def token(name: str, days: float | None, data_dir: Path | None) -> None:
    """Print a new token for user NAME (and nothing else, for scripts).

    Revoke every token of a user with `rastercat users revoke NAME`.
    """
    if days is not None and not 0 < days < float("inf"):
        raise click.BadParameter("must be positive (a number of days)", param_hint="--days")
    with open_users(data_dir) as svc:
        click.echo(svc.mint_token(name, days=days))

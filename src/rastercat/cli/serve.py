"""``rastercat serve``: the API, the viewer and the ingest workers in one process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from rastercat.cli.options import data_dir_option

if TYPE_CHECKING:
    from rastercat.config import Settings

LOCAL_USER = "local"


def local_signin_default(settings: Settings) -> bool:
    """Local sign-in for the viewer: as set (``RASTERCAT_LOCAL_SIGNIN``), else on only when the
    server listens on a loopback address, where every client is on this machine."""
    from rastercat.config import is_loopback_host

    if "local_signin" in settings.model_fields_set:
        return settings.local_signin
    return is_loopback_host(settings.host)


@click.command()
@click.option(
    "--host", default=None, envvar="RASTERCAT_HOST", help="Address to bind (default 127.0.0.1)."
)
@click.option(
    "--port", type=int, default=None, envvar="RASTERCAT_PORT", help="Port (default 8765)."
)
@data_dir_option
@click.option("--workers", type=int, default=None, help="Ingest workers (default: the CPU count).")
@click.option("--no-workers", is_flag=True, help="Serve the API only (workers run elsewhere).")
@click.option("--log-level", default="info", show_default=True)
@click.option("--demo", is_flag=True, help="Also create the demo product (see `rastercat demo`).")
def serve(host: str | None, port: int | None, data_dir: Path | None, workers: int | None,
          no_workers: bool, log_level: str, demo: bool) -> None:  # fmt: skip
    """Start rastercat: catalog, metadata, raster, tiles, viewer and ingest workers."""
    from rastercat.api.app import create_app
    from rastercat.api.server import run
    from rastercat.client.auth import save_credentials
    from rastercat.config import load_settings
    from rastercat.wiring import build

    settings = load_settings(host=host, port=port, data_dir=data_dir)
    settings.local_signin = local_signin_default(settings)
    if workers is not None:
        settings.ingest.workers = workers
    if no_workers:
        settings.start_workers = False
    url = f"http://{'127.0.0.1' if settings.host in ('0.0.0.0', '::') else settings.host}:{settings.port}"
    # First start: schema, secret and a local user whose token the SDK on this machine finds.
    core = build(settings, role="cli")
    try:
        core.users.ensure_user(LOCAL_USER)
        local_token = core.users.mint_token(LOCAL_USER)
    finally:
        core.close()
    cred = save_credentials(url, local_token, settings.data_dir / "local-credentials.json")
    saved = save_credentials(url, local_token)
    click.echo(f"rastercat serving at {url}  (data: {settings.data_dir})")
    click.echo(f"local user '{LOCAL_USER}': token saved to {saved} and {cred}")
    if demo:
        from rastercat.cli.demo import start_in_background

        start_in_background(url, local_token)
    run(create_app(settings), settings.host, settings.port, log_level, settings.gc_threshold)

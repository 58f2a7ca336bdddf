"""The ``rastercat`` click group; commands live in their own modules."""

from __future__ import annotations

import click

from rastercat import __version__
from rastercat.cli.admin import groups, token, users
from rastercat.cli.data import search, upload
from rastercat.cli.demo import demo
from rastercat.cli.register import register
from rastercat.cli.serve import serve
from rastercat.cli.worker import worker


@click.group()
@click.version_option(__version__, prog_name="rastercat")
def cli() -> None:
    """rastercat: a self-hosted raster catalog."""


cli.add_command(serve)
cli.add_command(users)
cli.add_command(groups)
cli.add_command(token)
cli.add_command(worker)
cli.add_command(upload)
cli.add_command(search)
cli.add_command(demo)
cli.add_command(register)

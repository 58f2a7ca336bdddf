"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import click

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="RASTERCAT_DATA_DIR",
    help="Where the database, secret and files live (default: the user data dir).",
)

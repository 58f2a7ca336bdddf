"""The service clients Scenes uses: the caller's, or a new one (credentials from the environment)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from rastercat.client.metadata import Metadata
    from rastercat.client.raster import Raster


@contextmanager
def raster_client(client: Raster | None = None) -> Iterator[Raster]:
    """Yield ``client``, or a new ``Raster()`` that is closed afterwards."""
    if client is not None:
        yield client
        return
    from rastercat.client.raster import Raster

    owned = Raster()
    try:
        yield owned
    finally:
        owned.close()


@contextmanager
def metadata_client(client: Metadata | None = None) -> Iterator[Metadata]:
    """Yield ``client``, or a new ``Metadata()`` that is closed afterwards."""
    if client is not None:
        yield client
        return
    from rastercat.client.metadata import Metadata

    owned = Metadata()
    try:
        yield owned
    finally:
        owned.close()

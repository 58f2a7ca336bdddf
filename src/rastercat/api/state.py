"""Everything one app instance holds: the :class:`~rastercat.wiring.Services` that the composition
root builds from the settings in the lifespan (nothing at import)."""

from __future__ import annotations

from rastercat.wiring import Services, server_secret

AppState = Services

__all__ = ["AppState", "server_secret"]

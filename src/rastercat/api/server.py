"""Run the app under uvicorn, ending held requests at once when asked to stop."""

from __future__ import annotations

import socket
from types import FrameType
from typing import Any

import uvicorn

from rastercat.collector import DEFAULT_THRESHOLD, Collector


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, collector: Collector) -> None:
        super().__init__(config)
        self.collector = collector

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            # The app has started (its services built, routes compiled): what the process holds
            # now lives as long as it does.
            self.collector.tune()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets)
        finally:
            self.collector.restore()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn lets in-flight requests finish before it stops. Long polls of upload results
        # (up to 60 s) would hold Ctrl-C that long: answer them now, with the status as it is.
        state = getattr(getattr(self.config.app, "state", None), "rc", None)
        if state is not None:  # None until the app has started
            state.job_events.close()
        super().handle_exit(sig, frame)


def server(
    app: Any, host: str, port: int, log_level: str, gc_threshold: int = DEFAULT_THRESHOLD
) -> uvicorn.Server:
    """The server ``rastercat serve`` runs: ``app`` under uvicorn until SIGINT/SIGTERM, with
    Python's cyclic collector set for a server while it serves (``gc_threshold``:
    :mod:`rastercat.collector`)."""
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level)
    return _Server(config, Collector(gc_threshold))


def run(
    app: Any, host: str, port: int, log_level: str, gc_threshold: int = DEFAULT_THRESHOLD
) -> None:
    """Serve ``app`` until SIGINT/SIGTERM (what ``rastercat serve`` runs)."""
    server(app, host, port, log_level, gc_threshold).run()

"""Run the app under uvicorn, ending held requests at once when asked to stop."""

from __future__ import annotations

from types import FrameType
from typing import Any

import uvicorn


class _Server(uvicorn.Server):
    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn lets in-flight requests finish before it stops. Long polls of upload results
        # (up to 60 s) would hold Ctrl-C that long: answer them now, with the status as it is.
        state = getattr(getattr(self.config.app, "state", None), "rc", None)
        if state is not None:  # None until the app has started
            state.job_events.close()
        super().handle_exit(sig, frame)


def run(app: Any, host: str, port: int, log_level: str) -> None:
    """Serve ``app`` until SIGINT/SIGTERM (what ``rastercat serve`` runs)."""
    _Server(uvicorn.Config(app, host=host, port=port, log_level=log_level)).run()

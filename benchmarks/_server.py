"""A rastercat server in this process for the benchmarks: uvicorn on 127.0.0.1, a free port."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import uvicorn


def start_server(data_dir: Path, user: str = "bench", workers: int = 2) -> tuple[Any, str, str]:
    """Start ``create_app`` in a thread; returns (app, base URL, a token for ``user``)."""
    from rastercat.api.app import create_app
    from rastercat.config import IngestSettings, Settings

    app = create_app(Settings(data_dir=data_dir, ingest=IngestSettings(workers=workers)))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    state = app.state.rc
    state.users.ensure_user(user)
    return app, url, state.users.mint_token(user)

"""Project-wide fixtures: a real rastercat server on 127.0.0.1 and tokens for its users."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from live import LiveServer, make_settings


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(make_settings(tmp_path_factory.mktemp("server"), isolate=True)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    """Start (and restart) servers on a data directory of the test's own."""
    started: list[LiveServer] = []

    def start(data_dir: Path | None = None, **kw: Any) -> LiveServer:
        server = LiveServer(make_settings(data_dir or tmp_path / "data", **kw)).start()
        started.append(server)
        return server

    yield start
    for s in started:
        s.stop()


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:12]


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Any]:
    """The app's services (the ``api`` role: nothing started) on a SQLite file in ``tmp_path``,
    for tests that call the services without HTTP."""
    from rastercat.api.state import AppState
    from rastercat.config import Settings

    s = AppState.open(Settings(data_dir=tmp_path / "data", start_workers=False))
    try:
        yield s
    finally:
        s.close()

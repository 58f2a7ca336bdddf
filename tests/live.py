"""A real rastercat server on 127.0.0.1 for tests (``LiveServer``) and its settings; importable
from any test module as ``live`` (``conftest`` names are ambiguous across test folders)."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from rastercat.api.app import create_app
from rastercat.config import IngestSettings, Settings


@dataclass
class LiveServer:
    """A running server: ``url``, direct access to its ``state``, and user tokens."""

    settings: Settings
    url: str = ""
    app: Any = None
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _users: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> Any:
        return self.app.state.rc

    def start(self) -> LiveServer:
        self.app = create_app(self.settings)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)

    def token(
        self, name: str = "alice", groups: tuple[str, ...] = (), org: str | None = None
    ) -> str:
        users = self.state.users
        try:
            user = users.get_user(name)
            if groups:
                users.set_groups(name, add=tuple(g for g in groups if g not in user["groups"]))
            if org is not None and user["org"] != org:
                users.set_org(name, org)
        except Exception:
            users.add_user(name, groups=groups, org=org)
        if name not in self._users:
            self._users[name] = users.mint_token(name)
        return self._users[name]

    def client(self, name: str | None = "alice", **kw: Any) -> httpx.Client:
        headers = {"Authorization": self.token(name)} if name else {}
        headers.update(kw.pop("headers", {}))
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)

    @contextlib.contextmanager
    def env(self, name: str = "alice") -> Iterator[None]:
        old = {k: os.environ.get(k) for k in ("RASTERCAT_URL", "RASTERCAT_TOKEN")}
        os.environ["RASTERCAT_URL"] = self.url
        os.environ["RASTERCAT_TOKEN"] = self.token(name)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def make_settings(data_dir: Path, *, isolate: bool = False, **kw: Any) -> Settings:
    """Servers of single tests convert in-process (a process pool costs a second or two to start);
    the session's ``live_server`` and ``rastercat serve`` subprocesses use the default pool."""
    ingest = IngestSettings(workers=2, poll_interval=0.05, isolate=isolate)
    return Settings(data_dir=data_dir, ingest=ingest, **kw)

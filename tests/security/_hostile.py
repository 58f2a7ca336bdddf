"""Helpers of the hostile-request tests: a counting loopback listener and the test product."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from typing import Any

import httpx

from helpers import wait_for

CAT = "/metadata/v1/catalog"
BAND = {"name": "b1", "srcband": 1, "dtype": "UInt16", "nbits": 16, "data_range": [0, 100],
        "type": "spectral"}  # fmt: skip


@dataclass
class Listener:
    """A TCP server on 127.0.0.1 that accepts, counts and closes connections."""

    sock: socket.socket
    connections: int = 0
    _probes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def received(self) -> int:
        """Connections made by anyone but this method. Connections are accepted in order, so
        once a probe of its own has been counted every earlier connection has been too."""
        self._probes += 1
        socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        wait_for(lambda: self.connections >= self._probes, 10, what="the listener's probe")
        # A late connection of the server would still be counted after the probe.
        return self.connections - self._probes

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:  # closed at teardown
                return
            with self._lock:
                self.connections += 1
            conn.close()


@dataclass
class Ingested:
    server: Any
    client: httpx.Client
    pid: str

    @property
    def image(self) -> str:
        return f"{self.pid}:i"

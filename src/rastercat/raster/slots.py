"""A bound on how many raster reads and tile renders run at once.

Each read allocates up to ``limits.max_read_bytes``; without a bound, N parallel large requests
allocate N times that. Requests beyond the bound wait for a slot (they are not refused), and wait
on the event loop, not in a worker thread, so waiting requests hold no thread of the pool that
every other route needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


class ReadSlots:
    """At most ``total`` reads at once; ``running`` and ``peak`` count them (for monitoring)."""

    def __init__(self, total: int) -> None:
        if total < 1:
            raise ValueError("at least one concurrent read is needed")
        self.total = total
        self.running = 0
        self.peak = 0
        self._limiter: anyio.CapacityLimiter | None = None
        self._lock = threading.Lock()

    def _counted(self, fn: Callable[..., T], *args: object) -> T:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return fn(*args)
        finally:
            with self._lock:
                self.running -= 1

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` in a worker thread once a slot is free."""
        if self._limiter is None:  # made on first use: it belongs to the running event loop
            self._limiter = anyio.CapacityLimiter(self.total)
        return await anyio.to_thread.run_sync(self._counted, fn, *args, limiter=self._limiter)

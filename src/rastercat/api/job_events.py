"""Wake HTTP requests that wait for an ingest job to finish (long polling of upload results).

Ingest workers run in threads (or, with Celery, in other processes); a waiting request runs on the
event loop. A worker of this process calls :meth:`JobEvents.finished` from its thread; every waiter
wakes and re-reads its job from the database, which stays the truth. Waiters also re-read on a short
period, so jobs finished by another process (a Celery worker) are noticed without any signal.
"""

from __future__ import annotations

import asyncio
import threading


class JobEvents:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self.closed = False
        """The server is stopping: waits end at once."""

    def close(self) -> None:
        """End every wait now and from now on (the server is stopping)."""
        self.closed = True
        self.finished()

    def finished(self, _uid: str | None = None) -> None:
        """A job ended (any thread): wake every waiting request."""
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop is closed: its request is gone
                pass

    async def wait(self, timeout: float) -> bool:
        """Until some job ends or ``timeout`` seconds pass; True when woken by a job."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.add(entry)
        if self.closed:  # closed before this waiter was registered: it would not be woken
            entry[1].set()
        try:
            await asyncio.wait_for(entry[1].wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                self._waiters.discard(entry)

"""Read transactions ended off the request's path.

A request that only reads may answer before its transaction ends: the ``COMMIT`` of a transaction
that only read changes nothing, and on PostgreSQL it is a round trip, measured at 0.1-0.3 ms after
a search's reads on a 2-core VM (the server process had gone idle while the search decoded its
rows, and waking it costs more than the statement). :class:`LateEnds` runs such ends on a few
threads of its own; :meth:`LateEnds.close` waits for those still under way.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

THREADS = 4
"""Threads ending transactions: each end waits on the network, not the CPU."""


class LateEnds:
    def __init__(self, threads: int = THREADS) -> None:
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, end: Callable[[], None]) -> None:
        """Run ``end`` soon on one of the threads (here and now once :meth:`close` has run)."""
        with self._lock:
            if not self._closed:
                if self._pool is None:  # started with the first end, not with the Repo
                    self._pool = ThreadPoolExecutor(self._threads, "rastercat-read-end")
                try:
                    self._pool.submit(_run, end)
                    return
                except RuntimeError:  # the interpreter is shutting down: no new threads
                    pass
        _run(end)

    def close(self) -> None:
        """Wait for the ends under way; later ones run in their caller's thread."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)


def _run(end: Callable[[], None]) -> None:
    try:
        end()
    except Exception:  # the transaction only read: nothing is lost, the pool drops a bad connection
        log.warning("a read transaction failed to end", exc_info=True)

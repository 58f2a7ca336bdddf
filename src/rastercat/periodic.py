"""One helper for the background loops: call a function every so often until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("rastercat")


class Periodic:
    """Calls ``fn`` in a daemon thread named ``name``, every ``interval`` seconds, until stopped.

    - The first call comes at once (``immediately``) or after one interval.
    - ``fn`` returning True means "more work is waiting": it is called again at once.
    - An exception of ``fn`` is logged (``failure``, at ``level``, on ``logger``), never fatal.
    - :meth:`wake` ends the current wait; :meth:`stop` ends the loop and waits for the thread
      (``fn`` itself may call it, to end its own loop).
    """

    def __init__(
        self,
        fn: Callable[[], object],
        interval: float,
        name: str,
        *,
        immediately: bool = False,
        failure: str | None = None,
        level: int = logging.WARNING,
        logger: logging.Logger = log,
    ) -> None:
        self.fn, self.interval, self.name = fn, interval, name
        self.immediately = immediately
        self.failure = failure if failure is not None else f"{name} failed; retrying later"
        self.level, self.logger = level, logger
        self.stopped = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _wait(self) -> None:
        self._wake.wait(self.interval)
        self._wake.clear()

    def _loop(self) -> None:
        if not self.immediately:
            self._wait()
        while not self.stopped.is_set():
            try:
                busy = self.fn() is True
            except Exception:
                self.logger.log(self.level, self.failure, exc_info=True)
                busy = False
            if not busy and not self.stopped.is_set():
                self._wait()

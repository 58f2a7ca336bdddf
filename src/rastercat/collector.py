"""Python's cyclic garbage collector, set for a server process.

Found with ``py-spy --gil`` on ``rastercat serve`` answering searches of 100 images (1M-image
catalog, PostgreSQL): a sixth of the time the process held the GIL went to one line, decoding each
row's attributes with orjson, 3.7-5 us a row where the same call in a loop takes 1-1.5 us. The
difference was the collector. A page of decoded rows holds ~700 new containers at once, Python's
threshold for a pass over the youngest generation; and now and then a pass over every generation
walks all the containers the process holds (its modules, routes, models, SQLAlchemy's and
pydantic's caches: ~166,000 objects, 36-43 ms a pass). Counted with ``gc.callbacks`` over 1,800
searches of the four shapes of ``benchmarks/bench_search.py``, in the service without HTTP:
Python's settings made 1,278 young passes (55 ms in all) and 4 full ones (165 ms); frozen start-up
objects and a threshold of 10,000 made none, and the 1,800 searches took 3.55 s instead of 4.15 s.
Over HTTP the median moved by -5 to +4 % (four alternating runs of two servers): what went is the
occasional 40 ms pause, not the typical search.

:class:`Collector` does both once ``rastercat serve`` has started its app, and undoes them when it
stops. Garbage still goes: anything outside a cycle is freed when its last reference goes, as
always, and cycles are collected in fewer passes. Objects frozen at start-up are the process's own
long-lived structure; garbage at that moment is collected first.
"""

from __future__ import annotations

import gc

DEFAULT_THRESHOLD = 10_000
"""New containers (allocations less deallocations) between collections of the youngest
generation; Python's default is 700."""


class Collector:
    """Freezes what the process holds once it is ready to serve and sets the youngest
    generation's threshold (``threshold`` 0: Python's defaults, nothing changed). For the process
    that owns the interpreter (``rastercat serve``, :mod:`rastercat.api.server`), not for an app
    embedded in someone else's process: the collector's settings are the whole process's."""

    def __init__(self, threshold: int = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold
        self._before: tuple[int, int, int] | None = None

    def tune(self) -> None:
        if self.threshold <= 0 or self._before is not None:
            return
        self._before = gc.get_threshold()
        gc.collect()  # what is garbage now is not frozen with the rest
        gc.freeze()
        gc.set_threshold(self.threshold, *self._before[1:])

    def restore(self) -> None:
        """Python's settings as they were, and the frozen objects handed back to the collector."""
        if self._before is None:
            return
        gc.set_threshold(*self._before)
        gc.unfreeze()
        self._before = None

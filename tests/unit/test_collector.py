"""Python's cyclic collector while ``rastercat serve`` serves: the start-up objects frozen, the
youngest generation collected less often, both undone when the server stops; garbage in cycles
still collected."""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rastercat.api.app import create_app
from rastercat.api.server import server
from rastercat.collector import DEFAULT_THRESHOLD, Collector
from rastercat.config import Settings


@pytest.fixture
def python_defaults() -> Iterator[tuple[int, int, int]]:
    """The test runs from Python's settings and leaves them as they were."""
    before = gc.get_threshold()
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    try:
        yield gc.get_threshold()
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_tune_freezes_and_sets_the_threshold_restore_undoes_both(python_defaults) -> None:
    collector = Collector(12_345)
    collector.tune()
    try:
        assert gc.get_threshold() == (12_345, 10, 10)
        assert gc.get_freeze_count() > 1000  # this process's modules, classes, functions
        collector.tune()  # twice is once: restore still finds Python's own settings
    finally:
        collector.restore()
    assert gc.get_threshold() == python_defaults
    assert gc.get_freeze_count() == 0
    collector.restore()  # again: nothing to undo
    assert gc.get_threshold() == python_defaults


def test_zero_leaves_the_collector_as_python_sets_it(python_defaults) -> None:
    collector = Collector(0)
    collector.tune()
    assert gc.get_threshold() == python_defaults
    assert gc.get_freeze_count() == 0
    collector.restore()
    assert gc.get_threshold() == python_defaults


def test_cycles_made_while_tuned_are_still_collected(python_defaults) -> None:
    collector = Collector()
    collector.tune()
    try:
        ref = weakref.ref(Cycle())
        assert ref() is not None  # a cycle: no reference count frees it
        gc.collect()
        assert ref() is None
        # And without being asked: enough new containers set off a pass of their own.
        ref = weakref.ref(Cycle())
        junk = [[] for _ in range(3 * DEFAULT_THRESHOLD)]
        assert ref() is None
        del junk
    finally:
        collector.restore()


def test_garbage_that_exists_at_start_up_is_not_frozen(python_defaults) -> None:
    ref = weakref.ref(Cycle())
    collector = Collector()
    collector.tune()
    try:
        assert ref() is None
    finally:
        collector.restore()


def test_rastercat_serve_tunes_while_it_serves(tmp_path: Path, python_defaults) -> None:
    settings = Settings(data_dir=tmp_path / "data", start_workers=False)
    assert settings.gc_threshold == DEFAULT_THRESHOLD
    srv = server(create_app(settings), "127.0.0.1", 0, "warning", settings.gc_threshold)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    # Tuned right after uvicorn marks itself started, in the server's thread.
    while not (srv.started and gc.get_threshold() == (DEFAULT_THRESHOLD, 10, 10)):
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.02)
    try:
        assert gc.get_freeze_count() > 1000
        port = srv.servers[0].sockets[0].getsockname()[1]
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).status_code == 200
    finally:
        srv.should_exit = True
        thread.join(30)
    assert not thread.is_alive()
    assert gc.get_threshold() == python_defaults
    assert gc.get_freeze_count() == 0


def test_the_setting_reads_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("RASTERCAT_GC_THRESHOLD", "0")
    assert Settings(data_dir=tmp_path).gc_threshold == 0
    monkeypatch.setenv("RASTERCAT_GC_THRESHOLD", "-1")
    with pytest.raises(ValueError, match="gc_threshold"):
        Settings(data_dir=tmp_path)

"""Heap trimming gives back memory that threads freed in the middle of their malloc arenas, which
glibc otherwise keeps resident (what made the API process grow under a mixed load)."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
import time

import pytest
from pydantic import ValidationError

from helpers import wait_for
from rastercat import heap
from rastercat.config import Settings

pytestmark = pytest.mark.skipif(not heap.available(), reason="needs glibc's malloc_trim")

#: Two threads each fill ~100 MiB with 2 KiB blocks, then free all but every 64th: the blocks
#: kept pin each arena's top, so glibc cannot give the free runs between them back by itself.
FRAGMENT = textwrap.dedent(
    """
    import ctypes, json, sys, threading
    from rastercat import heap

    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    kept = []

    def anon_mib():
        for line in open("/proc/self/status"):
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024

    def churn():
        blocks = []
        for _ in range(50_000):
            p = libc.malloc(2048)
            ctypes.memset(p, 1, 2048)
            blocks.append(p)
        for i, p in enumerate(blocks):
            if i % 64:
                libc.free(p)
            else:
                kept.append(p)

    start = anon_mib()
    threads = [threading.Thread(target=churn) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    freed = anon_mib()
    released = heap.trim() if sys.argv[1] == "trim" else False
    print(json.dumps({"start": start, "freed": freed, "end": anon_mib(), "released": released}))
    """
)


def run(mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", FRAGMENT, mode], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_freed_memory_stays_resident_until_the_heap_is_trimmed() -> None:
    kept = run("keep")
    # The control: 98% of ~200 MiB freed, and still resident.
    assert kept["freed"] - kept["start"] > 150, kept
    assert kept["end"] - kept["start"] > 150, kept

    trimmed = run("trim")
    assert trimmed["freed"] - trimmed["start"] > 150, trimmed
    assert trimmed["released"] is True
    assert trimmed["end"] - trimmed["start"] < 40, trimmed


def test_a_trimmer_is_made_only_when_asked_for() -> None:
    loop = heap.trimmer(10.0)
    assert loop is not None and loop.name == "rastercat-heap-trim" and loop.interval == 10.0
    assert not loop.is_alive(), "made, not started"
    assert heap.trimmer(0) is None


def test_the_trimmer_rests_between_trims_even_when_memory_was_given_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[float] = []

    def released() -> bool:
        calls.append(time.monotonic())
        return True

    monkeypatch.setattr(heap, "trim", released)
    loop = heap.trimmer(0.2, growth=0)  # trims at every look
    assert loop is not None
    loop.start()
    try:
        wait_for(lambda: len(calls) >= 3, timeout=10)
    finally:
        loop.stop()
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert min(gaps) > 0.15, gaps  # once per interval, not in a loop


def test_it_trims_again_only_once_the_process_grew_by_the_allowed_amount(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    memory = [500 * 2**20]
    trims: list[int] = []

    def trim() -> bool:
        trims.append(memory[0])
        memory[0] -= 100 * 2**20  # what a trim gives back
        return True

    monkeypatch.setattr(heap, "trim", trim)
    monkeypatch.setattr(heap, "own_memory", lambda: memory[0])
    look = heap._Trim(growth=64 * 2**20)
    look()  # the first look trims: nothing is known of the process yet
    assert len(trims) == 1 and memory[0] == 400 * 2**20
    memory[0] += 63 * 2**20
    look()
    assert len(trims) == 1, "grown by less than 64 MiB since the trim"
    memory[0] += 2 * 2**20
    look()
    assert len(trims) == 2


def test_where_memory_cannot_be_read_it_trims_at_every_look(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trims: list[bool] = []
    monkeypatch.setattr(heap, "trim", lambda: trims.append(True) or True)
    monkeypatch.setattr(heap, "own_memory", lambda: None)  # no /proc
    look = heap._Trim(growth=64 * 2**20)
    for _ in range(3):
        look()
    assert len(trims) == 3


def test_the_process_own_memory_is_read() -> None:
    own = heap.own_memory()
    assert own is not None and 5 * 2**20 < own < 64 * 2**30


def test_the_interval_cannot_be_negative(tmp_path: object) -> None:
    with pytest.raises(ValidationError, match="memory_trim_interval"):
        Settings(memory_trim_interval=-1)

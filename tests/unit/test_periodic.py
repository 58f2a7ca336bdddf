"""The one periodic-task helper: timing of the first run, busy loops, wake, stop and failures."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from rastercat.periodic import Periodic


def wait_until(check: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_the_first_run_comes_after_one_interval_unless_immediately() -> None:
    calls: list[float] = []
    later = Periodic(lambda: calls.append(time.monotonic()), 60.0, "later")
    later.start()
    time.sleep(0.2)
    later.stop()
    assert calls == [] and not later.is_alive()

    now = Periodic(lambda: calls.append(time.monotonic()), 60.0, "now", immediately=True)
    now.start()
    wait_until(lambda: calls)
    now.stop()
    assert len(calls) == 1


def test_stop_and_wake_end_the_wait_at_once() -> None:
    calls = threading.Semaphore(0)
    loop = Periodic(calls.release, 60.0, "sleeper", immediately=True)
    loop.start()
    assert calls.acquire(timeout=5)
    loop.wake()  # runs again now, not in a minute
    assert calls.acquire(timeout=5)
    started = time.monotonic()
    loop.stop()
    assert time.monotonic() - started < 2 and not loop.is_alive()


def test_true_means_more_work_waiting() -> None:
    left = [3]

    def step() -> bool:
        left[0] -= 1
        return left[0] > 0

    loop = Periodic(step, 60.0, "busy", immediately=True)
    loop.start()
    wait_until(lambda: left[0] == 0)
    loop.stop()


def test_failures_are_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    runs = [0]

    def flaky() -> None:
        runs[0] += 1
        raise RuntimeError("boom")

    with caplog.at_level(logging.WARNING, logger="rastercat"):
        loop = Periodic(flaky, 0.01, "flaky")
        loop.start()
        wait_until(lambda: runs[0] >= 2)
        loop.stop()
    assert "flaky failed; retrying later" in caplog.messages


def test_the_task_may_stop_its_own_loop() -> None:
    runs = [0]
    loop: Periodic

    def once() -> None:
        runs[0] += 1
        loop.stop()

    loop = Periodic(once, 0.01, "once", immediately=True)
    loop.start()
    wait_until(lambda: not loop.is_alive())
    assert runs == [1]


def test_stopping_a_loop_that_never_started_is_fine() -> None:
    Periodic(lambda: None, 1.0, "idle").stop()

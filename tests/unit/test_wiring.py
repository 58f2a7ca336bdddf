"""The composition root: every role gets a fully typed object graph, and closing it stops every
thread that starting it began."""

from __future__ import annotations

import dataclasses
import threading
import time
import types
import typing
from pathlib import Path
from typing import Any

import pytest

from rastercat.config import Settings
from rastercat.periodic import Periodic
from rastercat.wiring import Core, Database, Services, WorkerServices, build


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", **kw)


def assert_typed(graph: Any) -> None:
    """Every field holds a value of its annotated type (None only where the type allows it)."""
    hints = typing.get_type_hints(type(graph))
    for f in dataclasses.fields(graph):
        value, hint = getattr(graph, f.name), hints[f.name]
        allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        if Any in allowed:  # the Celery app (an optional dependency)
            continue
        allowed = tuple(typing.get_origin(a) or a for a in allowed)
        assert any(conforms(value, a) for a in allowed), f"{f.name}: {value!r} is not {hint}"


def conforms(value: Any, cls: type) -> bool:
    if getattr(cls, "_is_protocol", False):  # a Protocol: has each of its methods
        members = [n for n in vars(cls) if not n.startswith("_")]
        return all(callable(getattr(value, n, None)) for n in members)
    return isinstance(value, cls)


def threads() -> set[threading.Thread]:
    return set(threading.enumerate())


def settle(before: set[threading.Thread], timeout: float = 10.0) -> set[threading.Thread]:
    """Threads started since ``before`` that are still alive after ``timeout`` at most."""
    deadline = time.monotonic() + timeout
    while True:
        left = {t for t in threads() - before if t.is_alive()}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def test_the_cli_gets_the_core_and_starts_nothing(tmp_path: Path) -> None:
    before = threads()
    core = build(settings(tmp_path), role="cli")
    try:
        assert type(core) is Core
        assert_typed(core)
        assert threads() == before
    finally:
        core.close()


@pytest.mark.parametrize("role", ["serve", "api"])
def test_an_app_gets_its_services_and_closing_stops_every_thread(
    tmp_path: Path, role: typing.Literal["serve", "api"]
) -> None:
    before = threads()
    services = build(settings(tmp_path, ingest={"workers": 2}), role=role)
    try:
        assert isinstance(services, Services)
        assert_typed(services)
        assert threads() == before, "building starts nothing"
        assert (services.workers is not None) is (role == "serve")
        assert (services.conversions is not None) is (role == "serve")
        services.start()
        started = {t.name for t in threads() - before}
        assert "rastercat-maintenance" in started
        assert "rastercat-heap-trim" in started  # glibc: every API process trims its heap
        if role == "serve":
            assert {"rastercat-ingest-0", "rastercat-ingest-1"} <= started
    finally:
        services.close()
    assert settle(before) == set()


def test_an_app_without_workers_builds_none(tmp_path: Path) -> None:
    services = build(settings(tmp_path, start_workers=False), role="serve")
    try:
        assert services.workers is None and services.conversions is None
        assert services.arrivals is None and services.celery is None
    finally:
        services.close()


def test_a_celery_app_enqueues_and_runs_no_workers(tmp_path: Path) -> None:
    before = threads()
    services = build(settings(tmp_path, ingest={"queue": "celery"}), role="serve")
    try:
        assert_typed(services)
        assert services.celery is not None and services.uploads.on_pending is not None
        assert services.workers is None and services.conversions is None
        services.start()
    finally:
        services.close()
    assert settle(before) == set()


def test_a_worker_gets_its_runner_and_closing_stops_its_loops(tmp_path: Path) -> None:
    before = threads()
    worker = build(settings(tmp_path), role="worker", lease=7.0)
    try:
        assert type(worker) is WorkerServices
        assert isinstance(worker, Database) and not isinstance(worker, Core)
        assert_typed(worker)
        assert worker.runner.lease == 7.0
        worker.start(object(), sweep_interval=30.0)  # the sweeper never fires in this test
        assert [type(loop).__name__ for loop in worker.loops] == ["Sweeper"]
        assert all(isinstance(loop, Periodic) and loop.is_alive() for loop in worker.loops)
    finally:
        worker.close()
    assert settle(before) == set()


def test_heap_trimming_can_be_turned_off(tmp_path: Path) -> None:
    before = threads()
    services = build(settings(tmp_path, memory_trim_interval=0, start_workers=False), role="serve")
    try:
        assert services.heap_trim is None
        services.start()
        assert "rastercat-heap-trim" not in {t.name for t in threads() - before}
    finally:
        services.close()
    assert settle(before) == set()


def test_closing_an_app_that_never_started_is_fine(tmp_path: Path) -> None:
    services = build(settings(tmp_path), role="serve")
    services.close()

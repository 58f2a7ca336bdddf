"""Every benchmark imports: they are not run by the suite, and a helper they import from another
benchmark can move (bench_stac_search.py once imported names bench_search.py no longer had)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCHMARKS.glob("*.py")))
def test_the_benchmark_imports(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    module = importlib.import_module(name)
    assert module.__file__ is not None and Path(module.__file__).parent == BENCHMARKS
    sys.modules.pop(name, None)

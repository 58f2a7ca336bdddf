"""Fixtures of the bulk tests: records on a grid, and a server on PostgreSQL + PostGIS (the
throw-away database of tests/scale/conftest.py, skipped when PostgreSQL is not running)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.conftest import alice, bob, product  # noqa: F401  (fixtures the tests use)
from scale.conftest import pg_databases, pg_url, root_conftest  # noqa: F401

CAT = "/metadata/v1/catalog"


def box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def grid_records(n: int, start: int = 0, prefix: str = "img") -> list[dict[str, Any]]:
    """``n`` typical records: a 0.01-degree footprint on a 1000-wide grid, a date, properties.
    Record ``i`` lies at lon ``(i % 1000) / 100``, lat ``(i // 1000) / 100``."""
    out = []
    for i in range(start, start + n):
        x, y = (i % 1000) / 100, (i // 1000) / 100
        out.append(
            {
                "id": f"{prefix}-{i:07d}",
                "acquired": f"2020-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z",
                "geometry": box(x, y, x + 0.01, y + 0.01),
                "cloud_fraction": (i % 100) / 100,
                "extra_properties": {"n": i, "tile": f"t{i % 97}"},
            }
        )
    return out


@pytest.fixture(scope="module")
def pg_server(
    pg_url: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
    root_conftest: Any,  # noqa: F811
) -> Iterator[Any]:
    settings = root_conftest.make_settings(Path(tmp_path_factory.mktemp("pg")), database_url=pg_url)
    server = root_conftest.LiveServer(settings).start()
    assert server.state.repo.dialect == "postgresql"
    try:
        yield server
    finally:
        server.stop()

# ruff: noqa: F811  (fixtures imported from tests/scale/conftest.py are named as arguments)
"""The STAC API tests (documents, searches with CQL2, paging, permissions) run again against a
server whose catalog is PostgreSQL + PostGIS: the CQL2 compiler's SQL, the GiST index and the
keyset pages on the other dialect. The tests are the very functions of the modules below; only
``live_server`` differs. Skipped when PostgreSQL is not running on 127.0.0.1:5432."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from scale.conftest import load_test_module, pg_databases, pg_url, root_conftest  # noqa: F401

ADOPTED = ["stac/test_api.py", "stac/test_search.py", "stac/test_permissions.py"]


def _adopt() -> None:
    for relpath in ADOPTED:
        module = load_test_module(relpath)
        tag = relpath.split("/")[-1].removeprefix("test_").removesuffix(".py")
        for attr, value in vars(module).items():
            if attr.startswith("test_") and callable(value):
                globals()[f"test_pg_{tag}__{attr.removeprefix('test_')}"] = value
            elif not attr.startswith("_") and (
                hasattr(value, "_get_wrapped_function") or hasattr(value, "_pytestfixturefunction")
            ):
                globals()[attr] = value  # a module-level fixture (bulk, world)


_adopt()


@pytest.fixture(scope="module")
def live_server(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory, root_conftest: Any
) -> Iterator[Any]:  # noqa: F811
    settings = root_conftest.make_settings(tmp_path_factory.mktemp("stac-pg"), database_url=pg_url)
    server = root_conftest.LiveServer(settings).start()
    assert server.state.repo.dialect == "postgresql"
    try:
        yield server
    finally:
        server.stop()

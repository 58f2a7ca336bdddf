"""The catalog API tests, the metadata search tests and the guide end to end, run again against a
server whose catalog is PostgreSQL + PostGIS (in-process ingest workers claiming jobs with row locks).

The tests are the very functions of tests/api, tests/metadata and tests/e2e, adopted into this
module; only ``live_server`` differs (module-scoped, on the session's PostgreSQL database).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.conftest import alice, band, bob, product  # noqa: F401  (fixtures the tests use)
from metadata.conftest import seeded  # noqa: F401
from scale.conftest import load_test_module

TESTS = Path(__file__).resolve().parent.parent
ADOPTED = ["api/test_products.py", "api/test_bands.py", "api/test_images_meta.py",
           "api/test_validation.py", "api/test_auth.py", "metadata/test_search.py",
           "e2e/test_guide_sdk.py"]  # fmt: skip


def _adopt() -> None:
    for relpath in ADOPTED:
        module = load_test_module(relpath)
        tag = relpath.split("/")[-1].removeprefix("test_").removesuffix(".py")
        for attr, value in vars(module).items():
            if attr.startswith("test_") and callable(value):
                globals()[f"test_pg_{tag}__{attr.removeprefix('test_')}"] = value
            elif not attr.startswith("_") and hasattr(value, "_get_wrapped_function"):
                globals()[attr] = value  # a module-level fixture (pytest >= 8.4)
            elif not attr.startswith("_") and hasattr(value, "_pytestfixturefunction"):
                globals()[attr] = value  # a module-level fixture (older pytest)


_adopt()


@pytest.fixture(scope="module")
def live_server(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory, root_conftest: Any
) -> Iterator[Any]:
    root = root_conftest
    settings = root.make_settings(tmp_path_factory.mktemp("pg-server"), database_url=pg_url)
    server = root.LiveServer(settings).start()
    assert server.state.repo.dialect == "postgresql"
    try:
        yield server
    finally:
        server.stop()

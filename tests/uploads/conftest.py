"""Fixtures for uploads through the real server: a server per test, so its data directory can be
checked as a whole."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _upload_helpers import Uploader, assert_no_stray_files


@pytest.fixture
def server(server_factory: Any) -> Any:
    """A server of the test's own, so its data directory can be checked as a whole."""
    return server_factory()


@pytest.fixture
def up(server: Any) -> Iterator[Uploader]:
    u = Uploader(server)
    try:
        yield u
    finally:
        u.close()


@pytest.fixture
def clean(server: Any) -> Iterator[None]:
    """Fail the test if it leaves a file in the data directory that no record needs."""
    yield
    assert_no_stray_files(server)

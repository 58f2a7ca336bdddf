"""Fixtures of the permission tests: the users of every role, on the session's live server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from _perm_world import World, make_world


@pytest.fixture(scope="module")
def world(live_server: Any) -> Iterator[World]:
    w = make_world(live_server)
    try:
        yield w
    finally:
        w.close()

"""A search body is checked whole before any work: a bad value is a 400 naming its field, and the
database is not read for it (the readable products are looked up last)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from rastercat.api.state import AppState
from rastercat.errors import InvalidInput

BAD = [
    ({"products": "not-a-list-of-ids", "start_datetime": "nope"}, "start_datetime"),
    ({"start_datetime": "2020-02-01", "end_datetime": "2020-01-01"}, "start_datetime"),
    ({"geom": {"type": "Polygon", "coordinates": "x"}}, "geom"),
    ({"cloud_fraction": float("inf")}, "cloud_fraction"),
    ({"sat_ids": [1]}, "sat_ids"),
    ({"query_expr": {"unknown_op": {}}}, None),
    ({"products": ["x"] * 100_000}, "products"),
]


@pytest.mark.parametrize(("body", "field"), BAD)
def test_bad_values_are_refused_before_the_database_is_read(
    state: AppState, body: dict[str, Any], field: str | None
) -> None:
    state.users.ensure_user("alice")
    p = state.users.authenticate(state.users.mint_token("alice"))
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa.event.listen(state.engine, "before_cursor_execute", seen)
    try:
        with pytest.raises(InvalidInput) as refused:
            state.metadata.search(p, body)
    finally:
        sa.event.remove(state.engine, "before_cursor_execute", seen)
    if field is not None:
        assert refused.value.field == field, refused.value
    assert statements == []


def test_a_good_search_reads_the_database(state: AppState) -> None:
    """The listener above sees statements (the test above can fail)."""
    state.users.ensure_user("alice")
    p = state.users.authenticate(state.users.mint_token("alice"))
    statements: list[str] = []
    sa.event.listen(state.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert state.metadata.search(p, {"products": ["nothing"]}) == ([], None)
    assert any("products" in s for s in statements)

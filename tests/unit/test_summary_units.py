"""The summary's SQL takes its unit of time from a fixed list only (the name goes into the text)."""

from __future__ import annotations

import pytest

from rastercat.catalog.summary import time_unit
from rastercat.errors import InvalidInput
from rastercat.store.sql.summary import _bucket


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("unit", ["year", "quarter", "month", "week", "day", "hour", "minute"])
def test_every_unit_a_body_can_name_has_its_sql(unit: str, dialect: str) -> None:
    sql = str(_bucket(unit, dialect))
    assert f"date_trunc('{unit}'" in sql if dialect == "postgresql" else "strftime('%s'" in sql


@pytest.mark.parametrize("unit", ["decade", "year') || pg_sleep(1) || ('", ""])
def test_anything_else_is_refused_before_it_reaches_sql(unit: str) -> None:
    with pytest.raises(ValueError, match="not a unit of time"):
        _bucket(unit, "postgresql")
    with pytest.raises(InvalidInput) as err:
        time_unit({"interval": unit or "x"})
    assert err.value.field == "interval"

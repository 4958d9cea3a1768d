"""Planning the ranges and checking ``entries``: plain data."""

from __future__ import annotations

import pytest

from dynamo.sync import (
    CLIENTS_INFO_BY_YEAR,
    LOWEST_CLIENTID,
    REJECT_REASONS,
    check_entries,
    plan_ranges,
    plan_sql,
    range_sql,
    rejects_sql,
)


def test_ranges_cover_every_clientid_once() -> None:
    assert plan_ranges([3, 9, 20]) == [(-1, 3), (3, 9), (9, 20)]
    assert plan_ranges([]) == []


@pytest.mark.parametrize("bad", [-1, -100])
def test_negative_entries_is_a_value_error(bad: int) -> None:
    with pytest.raises(ValueError, match="entries"):
        check_entries(bad)


@pytest.mark.parametrize("bad", [1.5, "10", None, True, [1]])
def test_non_int_entries_is_a_type_error(bad: object) -> None:
    with pytest.raises(TypeError, match="entries"):
        check_entries(bad)


def test_month_rows_are_read_in_client_order() -> None:
    sql = range_sql(CLIENTS_INFO_BY_YEAR, "contabyx")
    assert sql.endswith("ORDER BY clientid, year, month")
    assert ":low" in sql and ":high" in sql


def test_plan_and_ranges_cover_the_same_clientid_domain() -> None:
    # The plan counts clients from LOWEST_CLIENTID; the first range starts just below it.
    assert f"clientid >= {LOWEST_CLIENTID}" in plan_sql("contabyx")
    assert plan_ranges([LOWEST_CLIENTID]) == [(LOWEST_CLIENTID - 1, LOWEST_CLIENTID)]


def test_rejects_are_read_by_their_names() -> None:
    assert rejects_sql("contabyx") == (
        f"SELECT {', '.join(REJECT_REASONS)} FROM contabyx.source_rejects"
    )
    assert len(set(REJECT_REASONS)) == len(REJECT_REASONS)

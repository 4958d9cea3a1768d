"""Planning the ranges and checking ``entries``: plain data."""

from __future__ import annotations

import pytest
import sqlglot

from dynamo.errors import ConfigError
from dynamo.sync import (
    CLIENTS_INFO,
    CLIENTS_INFO_BY_YEAR,
    KINDS,
    LOWEST_CLIENTID,
    REJECT_REASONS,
    TableKind,
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


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=lambda kind: kind.name)
def test_a_range_statement_selects_the_columns_its_shaping_takes(kind: TableKind) -> None:
    # The statements live in sql/sync_queries.sql; shaping reads rows by position.
    statement = sqlglot.parse_one(range_sql(kind, "contabyx"), read="redshift")
    assert statement.named_selects == list(kind.columns)


def test_the_sync_statements_read_the_views_schema() -> None:
    assert " FROM reporting.clients_info " in plan_sql("reporting")
    assert " FROM reporting.clients_info " in range_sql(CLIENTS_INFO, "reporting")
    assert rejects_sql("reporting").endswith(" FROM reporting.source_rejects")


@pytest.mark.parametrize("schema", ["contabyx.x; DROP TABLE t", "a b", "", "1st"])
def test_the_sync_statements_take_only_a_plain_schema_name(schema: str) -> None:
    for build in (plan_sql, rejects_sql, lambda name: range_sql(CLIENTS_INFO, name)):
        with pytest.raises(ConfigError, match="not a plain SQL identifier"):
            build(schema)

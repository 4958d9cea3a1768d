"""Planning the ranges and checking ``entries``: plain data."""

from __future__ import annotations

import pytest
import sqlglot

from dynamo.config import Settings
from dynamo.errors import ConfigError
from dynamo.sync import (
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
    snapshot_sql,
)

DEFAULTS = Settings()


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
    sql = range_sql(CLIENTS_INFO_BY_YEAR, DEFAULTS)
    assert sql.endswith("ORDER BY clientid, year, month")
    assert ":low" in sql and ":high" in sql


def test_plan_and_ranges_cover_the_same_clientid_domain() -> None:
    # The plan counts clients from LOWEST_CLIENTID; the first range starts just below it.
    for kind in KINDS.values():
        assert f"clientid >= {LOWEST_CLIENTID}" in plan_sql(kind, DEFAULTS)
    assert plan_ranges([LOWEST_CLIENTID]) == [(LOWEST_CLIENTID - 1, LOWEST_CLIENTID)]


def test_rejects_are_read_by_their_names() -> None:
    assert rejects_sql(DEFAULTS) == (
        f"SELECT {', '.join(REJECT_REASONS)} FROM contabyx.source_rejects"
    )
    assert len(set(REJECT_REASONS)) == len(REJECT_REASONS)


@pytest.mark.parametrize("kind", list(KINDS.values()), ids=lambda kind: kind.name)
def test_a_range_statement_selects_the_columns_its_shaping_takes(kind: TableKind) -> None:
    # The statements live in sql/sync_queries.sql; shaping reads rows by position.
    statement = sqlglot.parse_one(range_sql(kind, DEFAULTS), read="redshift")
    assert statement.named_selects == list(kind.columns)


def test_a_run_reads_each_view_once_into_the_sync_schema_and_the_rest_from_there() -> None:
    settings = Settings(views_schema="reporting", sync_schema="etl")
    for kind in KINDS.values():
        clear, fill, *marks = snapshot_sql(kind, settings)
        assert all("reporting." not in statement for statement in marks)
        assert clear == f"DELETE FROM etl.{kind.view}"
        assert fill.startswith(f"INSERT INTO etl.{kind.view} ")
        assert fill.endswith(f" FROM reporting.{kind.view}")
        for statement in (plan_sql(kind, settings), range_sql(kind, settings)):
            assert "reporting." not in statement and f"etl.{kind.view}" in statement
    assert rejects_sql(settings).endswith(" FROM reporting.source_rejects")


def test_the_sync_tables_have_the_columns_the_ranges_read() -> None:
    created = _created_tables()
    for kind in KINDS.values():
        # The copy, and the record of what was written, which it is compared with.
        assert created[kind.view] == created[f"{kind.view}_done"] == list(kind.columns)
        assert created[f"{kind.view}_changed"] == ["clientid"]


def _created_tables() -> dict[str, list[str]]:
    from dynamo.views import sync_tables, table_columns

    tables = sync_tables()
    return {name: table_columns(statement, tables) for name, statement in tables.items()}


@pytest.mark.parametrize("schema", ["contabyx.x; DROP TABLE t", "a b", "", "1st"])
def test_the_sync_statements_take_only_a_plain_schema_name(schema: str) -> None:
    from dynamo.views import sync_query

    for views, sync in ((schema, "etl"), ("contabyx", schema)):
        with pytest.raises(ConfigError, match="not a plain SQL identifier"):
            sync_query("plan_clients_info", views, sync)


@pytest.mark.parametrize("key", ["views_schema", "sync_schema"])
def test_settings_take_only_plain_schema_names(key: str) -> None:
    with pytest.raises(ConfigError, match="not a plain SQL identifier"):
        Settings(**{key: "a; DROP TABLE t"})
    with pytest.raises(ConfigError, match="must differ"):
        Settings(views_schema="same", sync_schema="same")

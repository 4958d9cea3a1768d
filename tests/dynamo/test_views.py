"""Rendering the views (plain text in, statements out), and creating them on the local
stack under Redshift's rule for replacing a view."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import sql

from devstack.warehouse import REDSHIFT_USER
from dynamo.config import ConfigError
from dynamo.extract import ExtractError, open_source
from dynamo.extract.direct import DirectSource
from dynamo.sync import REJECT_REASONS
from dynamo.views import create_views, named_statements, package_sql, render_views
from tests.support.settings import settings_of


def test_plain_views_read_the_local_table_only() -> None:
    statements = render_views()
    assert [s.split()[4] for s in statements] == [
        "contabyx.clients_info",
        "contabyx.clients_info_by_month",
        "contabyx.source_rejects",
    ]
    assert all("NO SCHEMA BINDING" not in s for s in statements)


def test_spectrum_views_union_both_histories() -> None:
    for statement in render_views(spectrum_schema="ext_contabyx"):
        assert "FROM contabyx.transactions UNION ALL" in statement.replace(
            "transactionid, clientid, typeid, time, amount ", ""
        )
        assert "ext_contabyx.transactions" in statement
        assert statement.endswith("WITH NO SCHEMA BINDING")


@pytest.mark.parametrize("name", ["ext; DROP", "1abc", "a.b.c", "ext contabyx", ""])
def test_schema_names_are_identifiers(name: str) -> None:
    with pytest.raises(ConfigError):
        render_views(spectrum_schema=name)


def _where(statement: str) -> str:
    return statement[statement.index("\nWHERE") : statement.rindex("\nGROUP BY")]


def test_the_sync_statements_file_names_each_statement_once() -> None:
    names = named_statements(package_sql("sync_queries.sql"))
    per_view = (
        "create", "clear", "snapshot", "clear_changed", "changes", "everything", "plan",
        "range", "gone", "count", "forget", "clear_done", "promote",
        "verify_plan", "verify_range", "verify_sample",
    )  # fmt: skip
    tables = ("create_{}_done", "create_{}_changed")
    views = ("clients_info", "clients_info_by_month")
    assert set(names) == {"create_sync_schema", "rejects"} | {
        f"{step}_{view}" for step in per_view for view in views
    } | {table.format(view) for table in tables for view in views}
    assert all("\n" not in statement for statement in names.values())


@pytest.mark.parametrize(
    "text",
    [
        "SELECT 0;\n-- name: one\nSELECT 1;",
        "-- name: one\nSELECT 1;\n-- name: one\nSELECT 2;",
        "-- name: one\nSELECT 1; SELECT 2;",
        "-- name: one\n-- nothing here\n",
    ],
)
def test_a_statement_without_its_own_name_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="statement"):
        named_statements(text)


def test_total_and_months_keep_the_same_rows() -> None:
    # A client's total is the sum of its months only if both views filter alike.
    info, by_month, _ = render_views()
    assert _where(info) == _where(by_month)
    assert "t.clientid >= 0" in _where(info)


# --- create-views on the local stack: Redshift's rule for replacing a view -----------

_OLD_REJECTS = (
    "CREATE VIEW contabyx.source_rejects AS SELECT"
    " CAST(0 AS BIGINT) AS unknown_type, CAST(0 AS BIGINT) AS other_nature,"
    " CAST(0 AS BIGINT) AS null_clientid, CAST(0 AS BIGINT) AS null_amount,"
    " CAST(0 AS BIGINT) AS null_time"
)
_OLD_INFO = (
    "CREATE VIEW contabyx.clients_info AS SELECT CAST(1 AS BIGINT) AS clientid,"
    " CAST(0 AS DECIMAL(18, 2)) AS balance, CAST(0 AS DECIMAL(18, 2)) AS income,"
    " CAST(0 AS DECIMAL(18, 2)) AS expense, CAST(0 AS BIGINT) AS income_count,"
    " CAST(0 AS BIGINT) AS expense_count"
)


def _old_view(warehouse: Any, name: str, statement: str) -> None:
    """Put ``statement``'s view in place of ``name``, owned by the sync's database
    user, as an older ``create-views`` would have left it on Redshift."""
    with warehouse.cursor() as cur:
        cur.execute(sql.SQL("DROP VIEW IF EXISTS contabyx.{}").format(sql.Identifier(name)))
        cur.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(REDSHIFT_USER)))
        try:
            cur.execute(statement)
        finally:
            cur.execute("RESET ROLE")


def _view_columns(warehouse: Any, name: str) -> list[tuple[str, str]]:
    with warehouse.cursor() as cur:
        cur.execute(
            "SELECT column_name, data_type || coalesce('(' || numeric_precision || ','"
            " || numeric_scale || ')', '') FROM information_schema.columns"
            " WHERE table_schema = 'contabyx' AND table_name = %s ORDER BY ordinal_position",
            (name,),
        )
        return cur.fetchall()


def test_the_emulator_refuses_what_redshift_refuses(local_stack: Any, warehouse: Any) -> None:
    source = open_source(settings_of(local_stack.env))
    _old_view(warehouse, "replace_rule", "CREATE VIEW contabyx.replace_rule AS SELECT 1 AS a")
    try:
        # PostgreSQL appends the column; Redshift refuses any other column list.
        with pytest.raises(ExtractError, match="identical"):
            source.execute("CREATE OR REPLACE VIEW contabyx.replace_rule AS SELECT 1 AS a, 2 AS b")
        with pytest.raises(ExtractError, match="identical"):
            source.execute(
                "CREATE OR REPLACE VIEW contabyx.replace_rule AS SELECT CAST(1 AS BIGINT) AS a"
            )
        # The same columns replace in place.
        source.execute("CREATE OR REPLACE VIEW contabyx.replace_rule AS SELECT 2 AS a")
    finally:
        with warehouse.cursor() as cur:
            cur.execute("DROP VIEW IF EXISTS contabyx.replace_rule")


def test_create_views_recreates_views_whose_columns_change(
    local_stack: Any, warehouse: Any
) -> None:
    source = open_source(settings_of(local_stack.env))
    # The views of the release before: fewer reasons, DECIMAL(18, 2) sums.
    _old_view(warehouse, "source_rejects", _OLD_REJECTS)
    _old_view(warehouse, "clients_info", _OLD_INFO)
    sent = create_views(source, late_binding=False)
    assert "DROP VIEW IF EXISTS contabyx.source_rejects" in sent
    assert "DROP VIEW IF EXISTS contabyx.clients_info" in sent
    assert [c for c, _ in _view_columns(warehouse, "source_rejects")] == list(REJECT_REASONS)
    assert ("income", "numeric(38,2)") in _view_columns(warehouse, "clients_info")
    # Idempotent: views already right are replaced in place, nothing is dropped.
    again = create_views(source, late_binding=False)
    assert not [s for s in again if s.startswith("DROP")]
    # The Spectrum variant has the same columns: no drop either.
    with warehouse.cursor() as cur:
        cur.execute("CREATE SCHEMA IF NOT EXISTS ext_contabyx")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS ext_contabyx.transactions (transactionid BIGINT,"
            " clientid BIGINT, typeid INTEGER, time TIMESTAMP, amount DECIMAL(12,2))"
        )
    try:
        spectrum = create_views(source, spectrum_schema="ext_contabyx", late_binding=False)
        assert not [s for s in spectrum if s.startswith("DROP")]
    finally:
        create_views(source, late_binding=False)
    with warehouse.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM information_schema.views WHERE table_name LIKE 'contabyx_next_%'"
        )
        assert cur.fetchone()[0] == 0, "no scratch view is left behind"


def test_create_views_through_the_direct_source(local_stack: Any, warehouse: Any) -> None:
    # The catalog statement's :name parameters work on both sources.
    settings = {"REDSHIFT_SSL": "false", "REDSHIFT_PASSWORD": "local-password", **local_stack.env}
    with DirectSource.from_settings(settings_of(settings)) as source:
        _old_view(warehouse, "source_rejects", _OLD_REJECTS)
        sent = create_views(source, late_binding=False)
        assert "DROP VIEW IF EXISTS contabyx.source_rejects" in sent
        assert not [s for s in create_views(source, late_binding=False) if s.startswith("DROP")]
    assert [c for c, _ in _view_columns(warehouse, "source_rejects")] == list(REJECT_REASONS)


def test_a_view_with_no_listed_columns_is_recreated(local_stack: Any, warehouse: Any) -> None:
    # Redshift lists no columns for a late-binding view; a view of no columns is the
    # local stand-in for one (PostgreSQL allows it, and lists none either).
    source = open_source(settings_of(local_stack.env))
    _old_view(warehouse, "source_rejects", "CREATE VIEW contabyx.source_rejects AS SELECT")
    sent = create_views(source, late_binding=False)
    assert "DROP VIEW IF EXISTS contabyx.source_rejects" in sent
    assert [c for c, _ in _view_columns(warehouse, "source_rejects")] == list(REJECT_REASONS)

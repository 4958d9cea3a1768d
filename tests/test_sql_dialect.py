"""Every SQL statement the product sends, parsed as Redshift SQL (sqlglot, ``read="redshift"``).

The local warehouse is PostgreSQL, which accepts constructs Redshift refuses; this
check makes such a construct fail the build instead. The statements are found
from the code, three ways, so that the list cannot drift:

* the functions that build SQL (views as rendered, with and without Spectrum;
  every statement of ``sql/sync_queries.sql``: plan, ranges, rejects;
  create-views' catalog and DROP statements; the schema);
* every SQL string literal in ``dynamo/`` (f-string fields read as a name);
* every statement a real ``create-views`` and sync sent to the Data API emulator.

Besides parsing, the check refuses what sqlglot accepts but Redshift does not: a
statement sqlglot could only keep as an opaque command, a construct it cannot
write back as Redshift SQL, PostgreSQL-only clauses, and functions other than
the Redshift functions listed below.
"""

from __future__ import annotations

import ast
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from devstack.paths import SCHEMA_SQL
from dynamo.extract import open_source
from dynamo.query import Insert
from dynamo.views import (
    catalog_statements,
    create_views,
    named_statements,
    package_sql,
    render_views,
    sync_query,
    view_name,
)
from tests.support.settings import settings_of
from tests.support.synced import fresh_tables

ROOT = Path(__file__).resolve().parents[1]

#: Functions the product may call, by sqlglot's name for them; each is in the Redshift
#: SQL reference (aggregate, window, conditional, date and type conversion functions,
#: and the math function RANDOM, which sqlglot calls Rand).
_FUNCTION_NAMES = "Sum Count Min Max Cast Extract RowNumber Least Case If Exists Rand"
REDSHIFT_FUNCTIONS = frozenset(_FUNCTION_NAMES.split())
#: Statement kinds the product sends.
STATEMENT_KINDS = (exp.Select, exp.Union, exp.Create, exp.Drop, exp.Set, exp.Insert, exp.Delete)
#: Redshift commands sqlglot keeps as opaque commands (documented Redshift SQL).
_REDSHIFT_COMMANDS = re.compile(
    r"^(DECLARE \w+ CURSOR FOR \S|FETCH (FORWARD )?(\d+|ALL|\w+) FROM \w+$|CLOSE \w+$)",
    re.IGNORECASE,
)
_SQL_START = re.compile(
    r"^(SELECT|WITH \w+ AS|CREATE|DROP|DECLARE|FETCH|CLOSE|SET|INSERT|UPDATE"
    r"|DELETE|ALTER|GRANT|BEGIN|COMMIT|ROLLBACK|COPY|UNLOAD|TRUNCATE)\b"
)


def redshift_problems(sql: str) -> list[str]:
    """Why ``sql`` is not plain Redshift SQL (empty: it is)."""
    if _REDSHIFT_COMMANDS.match(sql.strip()):
        return []
    try:
        statements = sqlglot.parse(sql, read="redshift", error_level=ErrorLevel.RAISE)
    except SqlglotError as error:
        return [f"does not parse: {str(error).splitlines()[0]}"]
    problems = []
    for statement in statements:
        if statement is None:
            continue
        if not isinstance(statement, STATEMENT_KINDS):
            problems.append(f"not a statement the product sends: {type(statement).__name__}")
        try:
            statement.sql(dialect="redshift", unsupported_level=ErrorLevel.RAISE)
        except SqlglotError as error:
            problems.append(f"not Redshift SQL: {str(error).splitlines()[0]}")
        for node in statement.walk():
            problems.extend(_node_problems(node))
    return problems


def _node_problems(node: exp.Expression) -> list[str]:
    if isinstance(node, exp.Command):
        return [f"an opaque command: {node.sql()[:40]}"]
    if isinstance(node, exp.OnConflict):
        return ["ON CONFLICT (PostgreSQL only)"]
    if isinstance(node, exp.Distinct) and node.args.get("on") is not None:
        return ["DISTINCT ON (PostgreSQL only)"]
    if isinstance(node, exp.Anonymous):
        return [f"function {node.name} is not a known Redshift function"]
    if isinstance(node, exp.Func) and not isinstance(node, (exp.Binary, exp.Connector)):
        name = type(node).__name__
        if name not in REDSHIFT_FUNCTIONS:
            return [f"function {name} is not in the Redshift functions listed"]
    return []


# --- the statements, found from the code ----------------------------------------------


def built_statements() -> dict[str, str]:
    """Every statement the SQL-building functions make, by a readable name."""
    out: dict[str, str] = {}
    for variant, kwargs in (
        ("plain", {}),
        ("spectrum", {"spectrum_schema": "ext_contabyx"}),
        ("spectrum-local", {"spectrum_schema": "ext_contabyx", "late_binding": False}),
    ):
        for statement in render_views(**kwargs):  # type: ignore[arg-type]
            schema, name = view_name(statement)
            out[f"view {name} ({variant})"] = statement
            for i, other in enumerate(catalog_statements(schema, name)):
                out[f"create-views {name} #{i}"] = other
    for name in named_statements(package_sql("sync_queries.sql")):
        out[f"sync {name}"] = sync_query(name, "contabyx")
    for i, statement in enumerate(sqlglot.parse(SCHEMA_SQL.read_text(), read="redshift")):
        assert statement is not None
        out[f"schema #{i}"] = statement.sql(dialect="redshift")
    return out


def literal_statements(root: Path = ROOT / "dynamo") -> dict[str, str]:
    """Every string literal in ``root`` that starts like SQL, by ``file:line``.

    Docstrings are left out; an f-string's fields read as the name ``x``.
    """
    out = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        # The parts of an f-string are read with it, not alone.
        parts = {
            id(part)
            for node in ast.walk(tree)
            if isinstance(node, ast.JoinedStr)
            for part in node.values
        }
        for node in ast.walk(tree):
            if id(node) in docstrings or id(node) in parts:
                continue
            text = _literal_text(node)
            if text is not None and _SQL_START.match(text):
                out[f"{path.relative_to(ROOT)}:{node.lineno}"] = text
    return out


def _literal_text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "x" for part in node.values
        )
    return None


BUILT = built_statements()
LITERALS = literal_statements()


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_statements_are_redshift_sql(name: str) -> None:
    assert redshift_problems(BUILT[name]) == [], BUILT[name]


@pytest.mark.parametrize("where", sorted(LITERALS))
def test_sql_literals_in_the_code_are_redshift_sql(where: str) -> None:
    assert redshift_problems(LITERALS[where]) == [], LITERALS[where]


def test_the_literal_scan_finds_the_statements() -> None:
    # If the scan found nothing, the test above would pass vacuously.
    found = " ".join(LITERALS.values())
    assert "information_schema.columns" in found and "information_schema.views" in found
    assert "DROP VIEW IF EXISTS" in found


def test_the_sync_statements_are_checked() -> None:
    # The sync's statements live in sql/sync_queries.sql, not in literals.
    assert {"sync plan_clients_info", "sync range_clients_info", "sync rejects"} <= set(BUILT)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT DISTINCT ON (clientid) clientid, amount FROM contabyx.transactions",
        "INSERT INTO contabyx.transactiontypes VALUES (1, 'a', 'income') ON CONFLICT DO NOTHING",
        "SELECT clientid FROM contabyx.transactions FOR UPDATE SKIP LOCKED",
        "SELECT clientid FROM contabyx.transactions TABLESAMPLE SYSTEM (10)",
        "SELECT string_agg(name, ',') FROM contabyx.transactiontypes",
        "SELECT jsonb_build_object('a', clientid) FROM contabyx.transactions",
        "SELECT g FROM generate_series(1, 3) AS g",
        "COPY (SELECT 1) TO PROGRAM 'true'",
    ],
)
def test_postgresql_only_constructs_fail_the_check(sql: str) -> None:
    assert redshift_problems(sql) != []


@pytest.mark.integration
def test_schema_declares_keys_for_clientid_ranges() -> None:
    tables = {
        statement.this.this.name: statement.args.get("properties")
        for statement in sqlglot.parse(SCHEMA_SQL.read_text(), read="redshift")
        if isinstance(statement, exp.Create) and statement.kind == "TABLE"
    }
    transactions = tables["transactions"]
    assert transactions is not None
    dist = transactions.find(exp.DistKeyProperty)
    sort = transactions.find(exp.SortKeyProperty)
    assert dist is not None and dist.this.name == "clientid"
    assert sort is not None and [c.name for c in sort.this] == ["clientid"]
    types = tables["transactiontypes"]
    assert types is not None and types.find(exp.DistStyleProperty).this.name == "ALL"


def test_statements_sent_to_the_data_api_are_redshift_sql(local_stack: Any) -> None:
    """A real create-views (twice: the second only replaces), sync and rejects count."""
    client = boto3.client("redshift-data")
    started = datetime.now(timezone.utc)
    source = open_source(settings_of(local_stack.env))
    create_views(source, late_binding=False)
    create_views(source, late_binding=False)
    tables = ("dialect_ci", "dialect_ciby")
    fresh_tables(*tables)
    with Insert(clients_info_table=tables[0], clients_info_by_year_table=tables[1]) as insert:
        insert.clients_info(entries=3)
        insert.clients_info_by_month(entries=3)
        insert.source_rejects()
    sent = [
        s["QueryString"]
        for page in client.get_paginator("list_statements").paginate(Status="ALL")
        for s in page["Statements"]
        if s["CreatedAt"] >= started and s.get("QueryString")
    ]
    assert any("information_schema.columns" in s for s in sent)
    assert any("source_rejects" in s for s in sent)
    problems = {sql: redshift_problems(sql) for sql in sent}
    assert {sql: p for sql, p in problems.items() if p} == {}

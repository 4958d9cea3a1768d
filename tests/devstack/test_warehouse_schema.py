"""The schema Redshift gets (with its table attributes) and the one the local
PostgreSQL gets (without them), from the one file ``sql/schema.sql``."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from devstack.paths import SCHEMA_SQL
from devstack.warehouse import apply_schema, conninfo, postgres_schema


def test_table_attributes_are_stripped_for_postgresql() -> None:
    redshift = SCHEMA_SQL.read_text()
    assert "DISTKEY (clientid)" in redshift and "SORTKEY (clientid)" in redshift
    local = postgres_schema(redshift)
    statements = "\n".join(line for line in local.splitlines() if not line.startswith("--"))
    for attribute in ("DISTSTYLE", "DISTKEY", "SORTKEY"):
        assert attribute not in statements
    assert (
        postgres_schema(
            "CREATE TABLE t (a INT, b INT) DISTSTYLE KEY DISTKEY(a) INTERLEAVED SORTKEY (a, b)"
            " ENCODE AUTO;"
        )
        == "CREATE TABLE t (a INT, b INT);"
    )
    # Column names that merely contain the words are kept, and so is any other statement.
    assert postgres_schema("SELECT 'SORTKEY (a)';") == "SELECT 'SORTKEY (a)';"
    assert postgres_schema("CREATE TABLE t (sortkey_hint INT);") == (
        "CREATE TABLE t (sortkey_hint INT);"
    )


def test_the_schema_applies_to_a_fresh_local_database(local_stack: Any) -> None:
    admin = local_stack.conninfo
    name = f"schema_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        params = psycopg.conninfo.conninfo_to_dict(admin)
        dsn = conninfo(Path(params["host"]), int(params["port"]), dbname=name)
        apply_schema(dsn)
        apply_schema(dsn)  # idempotent
        with psycopg.connect(dsn) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'contabyx' ORDER BY 1"
            ).fetchall()
        assert tables == [("transactions",), ("transactiontypes",)]
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))

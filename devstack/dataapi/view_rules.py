"""Redshift's rule for ``CREATE OR REPLACE VIEW``, which PostgreSQL relaxes.

Redshift replaces a view only with a query that yields the identical columns: same
names, same types, same order. PostgreSQL also lets a replacement append columns.
The emulator refuses what Redshift refuses, so that ``create-views`` is tested
against the stricter rule.

Example::

    check_view_replacement(conn, "CREATE OR REPLACE VIEW s.v AS SELECT 1 AS a, 2 AS b")
    # -> psycopg.errors.InvalidTableDefinition when s.v has other columns
"""

from __future__ import annotations

import re
from typing import Any

import psycopg

_REPLACE = re.compile(
    r"^\s*CREATE\s+OR\s+REPLACE\s+VIEW\s+(?P<name>[\w.\"]+)\s+AS\s+(?P<query>.*?)"
    r"(?:\s+WITH\s+NO\s+SCHEMA\s+BINDING)?\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)

Columns = list[tuple[str, str]]


def check_view_replacement(conn: psycopg.Connection[Any], sql: str) -> None:
    """Raise as Redshift would if ``sql`` replaces a view with different columns."""
    match = _REPLACE.match(sql)
    if match is None:
        return
    name = match["name"]
    old = _view_columns(conn, name)
    if not old:
        return
    new = _query_columns(conn, match["query"])
    if new != old:
        raise psycopg.errors.InvalidTableDefinition(
            f"cannot replace view {name}: CREATE OR REPLACE VIEW needs the identical "
            f"columns (names and types) on Redshift; it has {_show(old)}, the new query "
            f"yields {_show(new)}. Drop the view first (DROP VIEW {name})"
        )


def _view_columns(conn: psycopg.Connection[Any], name: str) -> Columns:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a"
            " JOIN pg_class AS c ON c.oid = a.attrelid"
            " WHERE a.attrelid = to_regclass(%s) AND c.relkind = 'v'"
            " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (name,),
        )
        return [(str(n), str(t)) for n, t in cur.fetchall()]


def _query_columns(conn: psycopg.Connection[Any], query: str) -> Columns:
    with conn.cursor() as cur:
        cur.execute(f"SELECT * FROM ({query}) AS replacement LIMIT 0".encode())
        result = cur.pgresult
        assert result is not None
        fields = [(result.fname(i), result.ftype(i), result.fmod(i)) for i in range(result.nfields)]
        columns: Columns = []
        for fname, ftype, fmod in fields:
            cur.execute("SELECT format_type(%s, %s)", (ftype, fmod))
            row = cur.fetchone()
            assert row is not None
            columns.append(((fname or b"").decode(), str(row[0])))
        return columns


def _show(columns: Columns) -> str:
    return "(" + ", ".join(f"{name} {type_}" for name, type_ in columns) + ")"

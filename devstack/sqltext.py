"""SQL text helpers shared by the stand-ins that read statements (the wire front and
the Data API emulator's parameter binding)."""

from __future__ import annotations

import re

#: Redshift's table attributes (CREATE TABLE ... table_attributes), which PostgreSQL
#: has no syntax for: distribution and sort keys, and column encodings.
_REDSHIFT_TABLE_ATTRIBUTES = re.compile(
    r"\s*\b(?:DISTSTYLE\s+(?:AUTO|EVEN|KEY|ALL)"
    r"|DISTKEY\s*\(\s*\w+\s*\)"
    r"|(?:COMPOUND\s+|INTERLEAVED\s+)?SORTKEY\s*(?:\([\w\s,]*\)|AUTO)"
    r"|ENCODE\s+AUTO)",
    re.IGNORECASE,
)
#: A statement that is CREATE TABLE, after any comments.
_CREATE_TABLE = re.compile(
    r"^(?:\s*--[^\n]*\n|\s*/\*.*?\*/)*\s*CREATE\s+(?:TEMP\w*\s+)?TABLE\b",
    re.IGNORECASE | re.DOTALL,
)


def without_table_attributes(redshift_sql: str) -> str:
    """Redshift DDL as PostgreSQL accepts it: without table attributes.

    Only text that is a CREATE TABLE statement is changed: the attributes' words
    are left alone anywhere else (a string literal of a query, say).

    >>> without_table_attributes("CREATE TABLE t (a INT) DISTSTYLE KEY DISTKEY (a) SORTKEY (a);")
    'CREATE TABLE t (a INT);'
    >>> without_table_attributes("SELECT 'SORTKEY (a)'")
    "SELECT 'SORTKEY (a)'"
    """
    statements = redshift_sql.split(";")
    return ";".join(
        _REDSHIFT_TABLE_ATTRIBUTES.sub("", s) if _CREATE_TABLE.match(s) else s for s in statements
    )


def skip_block_comment(sql: str, i: int) -> int:
    """Index just past the block comment whose body starts at ``i`` (just after its
    ``/*``). Block comments nest, as in PostgreSQL and Redshift.

    >>> sql = "/* a /* b */ c */ SELECT 1"
    >>> sql[skip_block_comment(sql, 2):]
    ' SELECT 1'
    """
    depth, n = 1, len(sql)
    while i < n and depth:
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i

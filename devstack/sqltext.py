"""SQL text helpers shared by the stand-ins that read statements (the wire front and
the Data API emulator's parameter binding)."""

from __future__ import annotations


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

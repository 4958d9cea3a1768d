"""Translate Redshift Data API ``:name`` placeholders into psycopg named placeholders.

The Data API binds ``Parameters=[{"name": "id", "value": "42"}]`` to ``:id`` in the
SQL text. psycopg wants ``%(id)s``. Values are never spliced into the SQL: only the
placeholder syntax is rewritten and the values travel separately as bind parameters.

The scanner understands enough SQL lexing to leave alone what is not a placeholder:
``::type`` casts, string literals (``'...'``, ``E'...'``), quoted identifiers,
dollar-quoted bodies, comments and array slices such as ``a[lo:hi]``.

Example::

    >>> translate("SELECT * FROM t WHERE id = :id AND s = ':x' AND v::text <> '5%'", {"id"})
    ("SELECT * FROM t WHERE id = %(id)s AND s = ':x' AND v::text <> '5%%'", ['id'])
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from devstack.sqltext import skip_block_comment

__all__ = ["ParameterError", "bind_parameters", "placeholder_names", "translate"]

_NAME_CHARS = re.compile(r"[0-9A-Za-z_]+")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


class ParameterError(ValueError):
    """The SQL and the ``Parameters`` list do not agree (the API answers ValidationException)."""


def _is_ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def _scan(sql: str) -> list[tuple[int, int, str]]:
    """``(start, end, name)`` of each ``:name`` placeholder, skipping what is not code."""
    spans: list[tuple[int, int, str]] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'":
            # E'...' strings allow backslash escapes; plain strings only double quotes.
            backslash = i > 0 and sql[i - 1] in "eE" and (i < 2 or not _is_ident_char(sql[i - 2]))
            i += 1
            while i < n:
                if backslash and sql[i] == "\\":
                    i += 2
                    continue
                if sql[i] == "'":
                    if i + 1 < n and sql[i + 1] == "'":
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif ch == '"':
            end = sql.find('"', i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == '"':
                end = sql.find('"', end + 2)
            i = n if end == -1 else end + 1
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        elif ch == "/" and sql.startswith("/*", i):
            i = skip_block_comment(sql, i + 2)
        elif ch == "$" and (i == 0 or not _is_ident_char(sql[i - 1])):
            tag = _DOLLAR_TAG.match(sql, i)
            if tag is None:
                i += 1
                continue
            end = sql.find(tag.group(0), tag.end())
            i = n if end == -1 else end + len(tag.group(0))
        elif ch == ":":
            if sql.startswith("::", i):
                i += 2
                continue
            name = _NAME_CHARS.match(sql, i + 1)
            # A colon glued to an identifier on its left is an array slice (a[lo:hi]).
            glued = i > 0 and (_is_ident_char(sql[i - 1]) or sql[i - 1] == ":")
            if name is not None and not glued:
                spans.append((i, name.end(), name.group(0)))
                i = name.end()
            else:
                i += 1
        else:
            i += 1
    return spans


def placeholder_names(sql: str) -> list[str]:
    """Names of the ``:name`` placeholders in ``sql``, in order of first appearance.

    Example::

        >>> placeholder_names("SELECT :a, :b, :a::int")
        ['a', 'b']
    """
    seen: dict[str, None] = {}
    for _, _, name in _scan(sql):
        seen.setdefault(name, None)
    return list(seen)


def translate(sql: str, names: Iterable[str]) -> tuple[str, list[str]]:
    """Rewrite ``:name`` into ``%(name)s`` and escape ``%`` for psycopg.

    ``names`` are the parameter names the request supplies; a placeholder without a
    supplied value raises :class:`ParameterError`. Returns the psycopg query and the
    names the SQL actually uses.

    Example::

        >>> translate("SELECT :n::int + 1", ["n"])
        ('SELECT %(n)s::int + 1', ['n'])
    """
    supplied = set(names)
    out: list[str] = []
    used: dict[str, None] = {}
    pos = 0
    for start, end, name in _scan(sql):
        if name not in supplied:
            raise ParameterError(f"No value was supplied for the parameter ':{name}'.")
        out.append(sql[pos:start].replace("%", "%%"))
        out.append(f"%({name})s")
        used.setdefault(name, None)
        pos = end
    out.append(sql[pos:].replace("%", "%%"))
    return "".join(out), list(used)


def bind_parameters(
    sql: str, parameters: Sequence[Mapping[str, str]] | None
) -> tuple[str, dict[str, str] | None]:
    """Turn an API ``Sql`` and ``Parameters`` pair into psycopg ``(query, params)``.

    Without parameters the SQL runs as written (``params`` is None, so psycopg does
    not interpret ``%``), exactly as the Data API runs SQL without parameters.

    Example::

        >>> bind_parameters("SELECT :x", [{"name": "x", "value": "7"}])
        ('SELECT %(x)s', {'x': '7'})
    """
    if not parameters:
        return sql, None
    values: dict[str, str] = {}
    for param in parameters:
        name, value = param["name"], param["value"]
        if name in values:
            raise ParameterError(f"The parameter '{name}' is supplied more than once.")
        values[name] = value
    query, _ = translate(sql, values)
    return query, values

"""The warehouse views, from ``sql/create_views.sql``; and the package's SQL files.

The SQL files the package ships (``sql/``, package data ``dynamo.sql``) are read here,
by :func:`package_sql`; the only text put into a statement is a checked schema name.

Example::

    statements = render_views(spectrum_schema="ext_contabyx")   # pure
    create_views(source, spectrum_schema="ext_contabyx")        # runs them
    sync_query("plan", "contabyx")                              # sql/sync_queries.sql
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from typing import Optional

from dynamo.config import SQL_NAME, Settings
from dynamo.errors import ConfigError
from dynamo.extract import Source

log = logging.getLogger(__name__)

#: The one source reference the Spectrum variant widens.
_TRANSACTIONS = "FROM contabyx.transactions AS t"
_COLUMNS = "transactionid, clientid, typeid, time, amount"
_UNION = (
    "FROM (SELECT {columns} FROM contabyx.transactions "
    "UNION ALL SELECT {columns} FROM {schema}.transactions) AS t"
)


#: The line before each statement of a file of named statements.
_NAME_LINE = re.compile(r"^-- name: (\w+)$", re.MULTILINE)
#: How ``sql/sync_queries.sql`` names the sync's schema, and the views' schema.
_SCHEMAS = re.compile(r"\b(?:(contabyx_sync)\b|contabyx(?=\.))")


def package_sql(name: str) -> str:
    """The text of ``sql/<name>`` as shipped with the package (package data ``dynamo.sql``)."""
    return (resources.files("dynamo.sql") / name).read_text(encoding="utf-8")


def views_sql() -> str:
    """The text of ``sql/create_views.sql`` as shipped with the package."""
    return package_sql("create_views.sql")


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def named_statements(sql: str) -> dict[str, str]:
    """The statements of ``sql``, each after a ``-- name: x`` line, each made one line.

    One line, so that a message's preview of a statement (its first line) shows it.

    >>> named_statements("-- name: one\\nSELECT a\\n  FROM t;\\n-- name: two\\nSELECT 2;")
    {'one': 'SELECT a FROM t', 'two': 'SELECT 2'}
    """
    parts = _NAME_LINE.split(sql)
    if _statements(parts[0]):
        raise ValueError("a statement comes before the first '-- name:' line")
    out: dict[str, str] = {}
    for name, text in zip(parts[1::2], parts[2::2]):
        statements = _statements(text)
        if len(statements) != 1 or name in out:
            raise ValueError(f"statement {name!r}: not exactly one statement of that name")
        out[name] = " ".join(line.strip() for line in statements[0].splitlines())
    return out


def sync_query(
    name: str,
    views_schema: str = Settings.views_schema,
    sync_schema: str = Settings.sync_schema,
) -> str:
    """Statement ``name`` of ``sql/sync_queries.sql``, reading the views in
    ``views_schema`` and the sync's tables in ``sync_schema``.

    >>> sync_query("clear_clients_info", sync_schema="etl")
    'DELETE FROM etl.clients_info'
    """
    _check_name("views schema", views_schema)
    _check_name("sync schema", sync_schema)
    statement = named_statements(package_sql("sync_queries.sql"))[name]
    # Both names passed SQL_NAME: they cannot carry SQL. One pass, so that neither
    # name is taken for the other's placeholder.
    return _SCHEMAS.sub(lambda m: sync_schema if m[1] else views_schema, statement)


def _check_name(what: str, name: Optional[str]) -> None:
    if name is not None and not SQL_NAME.fullmatch(name):
        raise ConfigError(f"{what} {name!r} is not a plain SQL identifier")


def render_views(
    sql: Optional[str] = None,
    *,
    spectrum_schema: Optional[str] = None,
    views_schema: str = "contabyx",
    late_binding: bool = True,
) -> list[str]:
    """The CREATE VIEW statements, for a Spectrum schema and a views schema if given.

    Pure: names are checked against a strict identifier pattern since they are the
    only text spliced into the SQL. ``late_binding=False`` leaves out Redshift's
    WITH NO SCHEMA BINDING, for the local PostgreSQL that has no such clause.
    """
    _check_name("spectrum schema", spectrum_schema)
    _check_name("views schema", views_schema)
    out = []
    for statement in _statements(sql if sql is not None else views_sql()):
        statement = re.sub(
            r"^(CREATE OR REPLACE VIEW )contabyx\.", rf"\g<1>{views_schema}.", statement
        )
        if spectrum_schema is not None:
            if _TRANSACTIONS not in statement:
                raise ValueError(f"a view does not read {_TRANSACTIONS!r}: {statement[:60]}")
            # The schema name passed SQL_NAME above: it cannot carry SQL.
            union = _UNION.format(columns=_COLUMNS, schema=spectrum_schema)
            statement = statement.replace(_TRANSACTIONS, union)
            if late_binding:
                statement += "\nWITH NO SCHEMA BINDING"
        out.append(statement)
    return out


_VIEW_NAME = re.compile(r"^CREATE OR REPLACE VIEW (\w+)\.(\w+) AS\b")
#: The columns of a view as the catalog lists them: Redshift and PostgreSQL both have
#: information_schema. Redshift lists no columns for a late-binding view.
_COLUMNS_SQL = (
    "SELECT column_name, data_type, numeric_precision, numeric_scale,"
    " character_maximum_length FROM information_schema.columns"
    " WHERE table_schema = :schema AND table_name = :name ORDER BY ordinal_position"
)
_VIEW_SQL = (
    "SELECT table_name FROM information_schema.views"
    " WHERE table_schema = :schema AND table_name = :name"
)
#: The scratch view a new definition is tried as, to read its columns.
_SCRATCH = "contabyx_next_{name}"


def view_name(statement: str) -> tuple[str, str]:
    """``(schema, view)`` of a rendered CREATE OR REPLACE VIEW statement."""
    match = _VIEW_NAME.match(statement)
    if match is None:
        raise ValueError(f"not a CREATE OR REPLACE VIEW statement: {statement[:60]}")
    return match[1], match[2]


def catalog_statements(schema: str, name: str) -> list[str]:
    """The other statements :func:`create_views` may send for view ``schema.name``."""
    scratch = _SCRATCH.format(name=name)
    return [_COLUMNS_SQL, _VIEW_SQL, _drop_sql(schema, scratch), _drop_sql(schema, name)]


def _drop_sql(schema: str, name: str) -> str:
    return f"DROP VIEW IF EXISTS {schema}.{name}"


def create_views(
    source: Source,
    *,
    spectrum_schema: Optional[str] = None,
    views_schema: str = Settings.views_schema,
    late_binding: bool = True,
    sync_schema: str = Settings.sync_schema,
) -> list[str]:
    """Create or replace every view; returns the statements run.

    Redshift's CREATE OR REPLACE VIEW keeps a view only with identical columns (names,
    types, order), so a view whose columns change (a new release, or a switch to or
    from Spectrum) is dropped and created instead; grants on it must then be given
    again. A late-binding view (Spectrum) is always dropped and created: the catalog
    lists no columns to compare. Idempotent: views that are already right, and not
    late-binding, are replaced in place.
    """
    statements = render_views(
        spectrum_schema=spectrum_schema, views_schema=views_schema, late_binding=late_binding
    )
    run = []
    for statement in statements:
        schema, name = view_name(statement)
        if _columns_change(source, statement, schema, name):
            drop = _drop_sql(schema, name)
            log.info("%s.%s changes its columns: dropping it to create it again", schema, name)
            source.execute(drop)
            run.append(drop)
        source.execute(statement)
        run.append(statement)
    return run + _create_sync_tables(source, views_schema, sync_schema)


def sync_tables(
    views_schema: str = Settings.views_schema, sync_schema: str = Settings.sync_schema
) -> dict[str, str]:
    """Each table the sync owns, by name: its CREATE TABLE statement (the statements
    ``create_<table>`` of ``sql/sync_queries.sql``)."""
    names = named_statements(package_sql("sync_queries.sql"))
    tables = [name.removeprefix("create_") for name in names if name.startswith("create_")]
    return {
        table: sync_query(f"create_{table}", views_schema, sync_schema)
        for table in tables
        if table != "sync_schema"
    }


def _create_sync_tables(source: Source, views_schema: str, sync_schema: str) -> list[str]:
    """The sync's schema and tables (:func:`sync_tables`). A table whose columns are not
    its statement's (a new release) is dropped and created again: the copies are
    written anew by every run, and an empty record of what was written makes the next
    incremental run write every client."""
    run = [sync_query("create_sync_schema", views_schema, sync_schema)]
    source.execute(run[0])
    tables = sync_tables(views_schema, sync_schema)
    for name, statement in tables.items():
        old = [column[0] for column in _columns(source, sync_schema, name)]
        if old and old != table_columns(statement, tables):
            log.info("%s.%s changes its columns: dropping it to create it again", sync_schema, name)
            drop = f"DROP TABLE {sync_schema}.{name}"
            source.execute(drop)
            run.append(drop)
        source.execute(statement)
        run.append(statement)
    return run


def table_columns(statement: str, tables: Optional[dict[str, str]] = None) -> list[str]:
    """The column names a one-line CREATE TABLE statement declares, in order; for
    ``(LIKE s.parent)``, the parent's, from its statement in ``tables``.

    >>> table_columns("CREATE TABLE s.t ( a BIGINT NOT NULL, b DECIMAL(38, 2), PRIMARY KEY (a) )")
    ['a', 'b']
    >>> table_columns("CREATE TABLE s.u (LIKE s.t)", {"t": "CREATE TABLE s.t ( a BIGINT )"})
    ['a']
    """
    like = re.search(r"\(\s*LIKE\s+\w+\.(\w+)\s*\)", statement)
    if like is not None:
        return table_columns((tables or {})[like[1]], tables)
    body = statement[statement.index("(") + 1 :]
    out = []
    for match in re.finditer(r"(?:^|,)\s*(\w+)\s+(\w+)", body):
        if match[1].upper() in ("PRIMARY", "UNIQUE", "FOREIGN", "CONSTRAINT"):
            break
        out.append(match[1].lower())
    return out


def _columns(source: Source, schema: str, name: str) -> list[tuple[str, ...]]:
    rows = source.rows(_COLUMNS_SQL, {"schema": schema, "name": name})
    return [tuple("" if v is None else str(v) for v in row) for row in rows]


def _columns_change(source: Source, statement: str, schema: str, name: str) -> bool:
    """Whether ``statement`` gives view ``schema.name`` other columns than it has now."""
    old = _columns(source, schema, name)
    if not old:
        # No such view; or a view whose columns the catalog does not list, such as a
        # late-binding one (Redshift keeps those apart, PG_GET_LATE_BINDING_VIEW_COLS):
        # whether Redshift would replace it in place is undocumented, so drop it.
        return bool(list(source.rows(_VIEW_SQL, {"schema": schema, "name": name})))
    scratch = _SCRATCH.format(name=name)
    trial = statement.replace(f"VIEW {schema}.{name} AS", f"VIEW {schema}.{scratch} AS", 1)
    drop_scratch = _drop_sql(schema, scratch)
    source.execute(drop_scratch)
    try:
        source.execute(trial)
        new = _columns(source, schema, scratch)
    finally:
        source.execute(drop_scratch)
    return new != old

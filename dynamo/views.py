"""The warehouse views, from ``sql/create_views.sql``.

>>> statements = render_views(spectrum_schema="ext_contabyx")
>>> create_views(source, spectrum_schema="ext_contabyx")
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Optional

from dynamo.config import SQL_NAME, ConfigError
from dynamo.extract import Source

#: The one source reference the Spectrum variant widens.
_TRANSACTIONS = "FROM contabyx.transactions AS t"
_COLUMNS = "transactionid, clientid, typeid, time, amount"
_UNION = (
    "FROM (SELECT {columns} FROM contabyx.transactions "
    "UNION ALL SELECT {columns} FROM {schema}.transactions) AS t"
)


def views_sql() -> str:
    """The text of ``sql/create_views.sql`` as shipped with the package."""
    return (resources.files("dynamo.sql") / "create_views.sql").read_text(encoding="utf-8")


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


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
    for what, name in (("spectrum schema", spectrum_schema), ("views schema", views_schema)):
        if name is not None and not SQL_NAME.fullmatch(name):
            raise ConfigError(f"{what} {name!r} is not a plain SQL identifier")
    out = []
    for statement in _statements(sql if sql is not None else views_sql()):
        statement = re.sub(
            r"^CREATE OR REPLACE VIEW contabyx\.",
            f"CREATE OR REPLACE VIEW {views_schema}.",
            statement,
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


def create_views(
    source: Source,
    *,
    spectrum_schema: Optional[str] = None,
    views_schema: str = "contabyx",
    late_binding: bool = True,
) -> list[str]:
    """Create or replace every view; returns the statements run."""
    statements = render_views(
        spectrum_schema=spectrum_schema, views_schema=views_schema, late_binding=late_binding
    )
    for statement in statements:
        source.execute(statement)
    return statements

"""Extract: read rows from the warehouse views.

One small protocol, :class:`Source`, and one module per backend:

- :mod:`dynamo.extract.data_api`: the Redshift Data API (``SOURCE=data-api``, the default).
- :mod:`dynamo.extract.direct`: a direct connection through redshift-connector
  (``SOURCE=direct``).

:mod:`dynamo.extract.values` holds the Data API's pure value conversion (typed JSON
fields and CSV pages to Python values); it does no I/O.

Both return the same rows with the same Python types: integers as ``int``,
DECIMAL/NUMERIC as ``decimal.Decimal`` (never float), text as ``str``, NULL as
``None``.

Example (needs a warehouse)::

    from dynamo.config import load_settings

    source = open_source(load_settings())  # SOURCE, CLUSTER, ... from config/.env
    for clientid, balance in source.rows(
        "SELECT clientid, balance FROM contabyx.clients_info WHERE clientid > :last",
        {"last": 0},
    ):
        ...
"""

from __future__ import annotations

import abc
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar, Union

from dynamo.config import Settings
from dynamo.errors import ExtractError as ExtractError  # its home before dynamo.errors

#: A query parameter value; it is always sent as a bound parameter, never spliced into SQL.
ParamValue = Union[str, int]
Row = tuple[Any, ...]
_S = TypeVar("_S", bound="Source")


def short_sql(sql: str, limit: int = 80) -> str:
    """A one-line preview of ``sql`` for messages: its first non-blank line, truncated.

    >>> short_sql("  SELECT a\\n  FROM t")
    'SELECT a ...'
    """
    lines = [line.strip() for line in sql.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    first = " ".join(lines[0].split())
    if len(first) > limit:
        return first[: limit - 3].rstrip() + "..."
    return first + (" ..." if len(lines) > 1 else "")


class Source(abc.ABC):
    """Runs one SQL statement with ``:name`` parameters and streams its rows.

    Implementations are safe to call from several threads at once: the sync
    keeps several statements in flight, one per thread.
    """

    def rows(
        self,
        sql: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        cancel: threading.Event | None = None,
    ) -> Iterator[Row]:
        """Run ``sql`` and yield its rows as tuples, in the order the statement returns them.

        Values are bound parameters (text): cast them in the SQL, ``CAST(:n AS BIGINT)``.
        They are checked now, so a bad one raises before any request; the statement runs
        on the first ``next()``. Raises :class:`ExtractError` when the statement fails,
        or soon after ``cancel`` is set (the sync sets it when another part of the run
        has failed). How much of the result is held in memory is the backend's: see it.
        """
        return self._rows(sql, self._bind(sql, params or {}), cancel)

    @abc.abstractmethod
    def execute(self, sql: str) -> None:
        """Run one statement that returns no rows (DDL such as CREATE VIEW); wait for it."""

    def execute_script(self, statements: Sequence[str]) -> None:
        """Run several statements in one transaction and wait; blank ones are left out."""
        sqls = [statement for statement in statements if statement.strip()]
        if sqls:
            self._execute_script(sqls)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections; the default has none."""

    def __enter__(self: _S) -> _S:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- what a backend provides --------------------------------------------------------

    @abc.abstractmethod
    def _bind(self, sql: str, params: Mapping[str, ParamValue]) -> Any:
        """``params`` as the backend sends them; raises on a bad one, before any request."""

    @abc.abstractmethod
    def _rows(self, sql: str, bound: Any, cancel: threading.Event | None) -> Iterator[Row]:
        """A generator: runs ``sql`` with ``_bind``'s result on its first ``next()``."""

    @abc.abstractmethod
    def _execute_script(self, sqls: list[str]) -> None:
        """Run ``sqls`` (none blank) in one transaction and wait."""


def open_source(settings: Settings) -> Source:
    """The source ``settings.source`` names (``SOURCE``: ``data-api`` or ``direct``),
    configured from the other settings.

    >>> open_source(Settings(cluster="c1", aws_region="eu-west-1"))
    DataApiSource(database='dev', cluster='c1', db_user='awsuser', result_format='CSV')
    """
    if settings.source == "data-api":
        from dynamo.extract.data_api import DataApiSource

        return DataApiSource.from_settings(settings)
    if settings.source == "direct":
        from dynamo.extract.direct import DirectSource

        return DirectSource.from_settings(settings)
    raise ValueError(f"unknown source {settings.source!r}; valid sources: data-api, direct")

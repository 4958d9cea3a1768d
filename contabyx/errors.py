"""The failures the client library raises.

Every failure that is not a bad argument is a :class:`ContabyxError`; bad arguments
raise the built-in :class:`TypeError` or :class:`ValueError` before any network call.

``str(error)`` is always one line and never contains credentials. The AWS exception
that caused a failure, if any, is chained as ``error.__cause__``.

>>> try:
...     api.balance(42)
... except ClientNotFound as exc:
...     print(exc.clientid)          # 42
... except ContabyxError as exc:
...     print(f"lookup failed: {exc}")
"""

from __future__ import annotations

__all__ = [
    "AccessDenied",
    "ClientNotFound",
    "ConfigurationError",
    "ConnectionFailed",
    "ContabyxError",
    "CredentialsError",
    "IncompleteClient",
    "InconsistentClient",
    "OutdatedItem",
    "ServiceError",
    "TableNotFound",
    "Throttled",
]


class ContabyxError(Exception):
    """Base of every failure of the client library other than a bad argument."""


class ClientNotFound(ContabyxError, LookupError):
    """No client has this id.

    >>> ClientNotFound(42).clientid
    42
    """

    def __init__(self, clientid: int, table: str | None = None) -> None:
        self.clientid = clientid
        self.table = table
        where = f" in table {table!r}" if table else ""
        super().__init__(f"client {clientid} not found{where}")

    def __reduce__(self) -> tuple[type[ClientNotFound], tuple[int, str | None]]:
        return (type(self), (self.clientid, self.table))


def _some(clientids: tuple[int, ...], shown: int = 5) -> str:
    named = ", ".join(str(c) for c in clientids[:shown])
    more = len(clientids) - shown
    word = "client" if len(clientids) == 1 else "clients"
    return f"{word} {named}" + (f" (and {more} more)" if more > 0 else "")


class InconsistentClient(ContabyxError):
    """The two tables do not hold a whole, current picture of these clients: the
    last sync did not complete, or wrote an older layout. Re-running the sync
    (``contabyx-etl run``) fixes it.

    >>> InconsistentClient((42,), "clients_info_by_year").clientids
    (42,)
    """

    _problem = "are inconsistent"

    def __init__(self, clientids: tuple[int, ...], table: str) -> None:
        self.clientids = tuple(clientids)
        self.table = table
        super().__init__(
            f"{_some(self.clientids)}: {self._problem.format(table=table)}; "
            "re-run the sync (contabyx-etl run)"
        )

    def __reduce__(self) -> tuple[type[InconsistentClient], tuple[tuple[int, ...], str]]:
        return (type(self), (self.clientids, self.table))


class IncompleteClient(InconsistentClient):
    """A known client (in ``clients_info``) has no item in ``clients_info_by_year``:
    the last sync did not complete."""

    _problem = "known, but without an item in table {table!r}: the last sync did not complete"


class OutdatedItem(InconsistentClient):
    """A ``clients_info_by_year`` item has the layout of an older sync (no totals or
    run at its top level)."""

    _problem = "the item in table {table!r} has the layout of an older sync (no totals or run)"


class ConfigurationError(ContabyxError):
    """The client cannot be set up: no region, an unusable endpoint or configuration."""


class CredentialsError(ContabyxError):
    """No AWS credentials were found, or AWS rejected them."""


class AccessDenied(ContabyxError):
    """The credentials are valid but not allowed to read the table."""


class TableNotFound(ContabyxError):
    """A table does not exist (or is not ACTIVE) in this account and region."""


class Throttled(ContabyxError):
    """DynamoDB kept throttling after every retry, or a batch left keys unprocessed."""


class ConnectionFailed(ContabyxError):
    """DynamoDB could not be reached, or did not answer in time."""


class ServiceError(ContabyxError):
    """Any other failure reported by DynamoDB or botocore."""

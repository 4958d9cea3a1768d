"""The failures the client library raises.

Every failure that is not a bad argument is a :class:`ContabyxError`; bad arguments
raise the built-in :class:`TypeError` or :class:`ValueError` before any network call.

``str(error)`` is always one line and never contains credentials. The AWS exception
that caused a failure, if any, is chained as ``error.__cause__``. :func:`translate`
turns an AWS failure into one of these; the sync reads the same error codes.

Example::

    try:
        api.balance(42)
    except ClientNotFound as exc:
        print(exc.clientid)          # 42
    except ContabyxError as exc:
        print(f"lookup failed: {exc}")
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional, Union

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

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


# --- AWS failures to the errors above -------------------------------------------------

#: AWS's answers to a request that is not authenticated (bad or expired keys).
CREDENTIAL_CODES = frozenset(
    {
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "IncompleteSignatureException",
        "MissingAuthenticationTokenException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
    }
)
#: AWS's answers to valid credentials that lack a permission.
ACCESS_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
#: AWS's answers to too many requests.
THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)


class Endpoint(NamedTuple):
    """Where the lookups go, as a failure message names it."""

    region: Optional[str]
    url: str
    #: Attempts of one request, the first included.
    attempts: int
    #: The settings that bound a silent endpoint, e.g. ``"AWS_READ_TIMEOUT/..."``.
    timeouts: str


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, cut to ``limit`` characters.

    >>> one_line("no   such    table", 12)
    'no such t...'
    """
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def describe_failure(response: Any, caught_exception: Optional[BaseException]) -> str:
    """Why botocore is about to retry: the exception it caught, or the error code (else
    the HTTP status) of the response."""
    if caught_exception is not None:
        return f"{type(caught_exception).__name__}: {one_line(str(caught_exception), 160)}"
    if response is not None:
        error = response[1].get("Error", {}) if isinstance(response[1], dict) else {}
        status = response[1].get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return f"{error.get('Code') or 'HTTP ' + str(status)}"
    return "an unknown failure"


def translate(
    exc: Union[ClientError, BotoCoreError],
    operation: str,
    tables: tuple[str, ...],
    endpoint: Endpoint,
    scrub: Callable[[str], str],
) -> ContabyxError:
    """The ContabyxError for an AWS failure of ``operation`` on ``tables``: one line
    saying what to check, with ``scrub`` removing the caller's credentials."""
    where = " or ".join(repr(t) for t in tables)
    if isinstance(exc, ClientError):
        return _refused(exc, operation, where, endpoint.region, scrub)
    detail = scrub(one_line(str(exc)))
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)):
        return CredentialsError(
            f"{operation} on {where}: no usable AWS credentials ({detail}); pass keys, "
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or a role"
        )
    if isinstance(exc, (BotoConnectionError, HTTPClientError, ConnectionClosedError)):
        return ConnectionFailed(
            f"{operation} on {where}: DynamoDB unreachable or too slow after "
            f"{endpoint.attempts} attempts ({detail}); check the endpoint "
            f"({endpoint.url}) and the network, or raise {endpoint.timeouts}"
        )
    return ServiceError(f"{operation} on {where} failed ({type(exc).__name__}: {detail})")


def _refused(
    exc: ClientError,
    operation: str,
    where: str,
    region: Optional[str],
    scrub: Callable[[str], str],
) -> ContabyxError:
    """The error for an answer of DynamoDB's, by its error code."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    detail = scrub(one_line(str(error.get("Message", "")) or code))
    what = f"{operation} on {where}"
    if code == "ResourceNotFoundException":
        return TableNotFound(
            f"{operation}: table {where} not found in region {region} "
            f"(ResourceNotFoundException: {detail}); check the region and table "
            "names, or create the tables (contabyx-etl create-tables)"
        )
    if code in ACCESS_CODES:
        return AccessDenied(
            f"{what}: access denied ({code}: {detail}); "
            "the credentials need dynamodb:GetItem and dynamodb:BatchGetItem"
        )
    if code in THROTTLE_CODES:
        return Throttled(f"{what}: throttled after retries ({code}: {detail})")
    if code in CREDENTIAL_CODES:
        return CredentialsError(f"{what}: AWS rejected the credentials ({code}: {detail})")
    return ServiceError(f"{what} failed ({code}: {detail})")

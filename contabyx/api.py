"""The client library: per-client figures read from the two DynamoDB tables.

This module is the only place where the read side talks to AWS. It uses one botocore
low-level client per :class:`contabyxAPI` instance, created once, shared by every
thread (botocore clients are thread-safe) and pooling its connections.

>>> from contabyx import contabyxAPI
>>> api = contabyxAPI(region_name="eu-west-1")
>>> api.balance(42)
10.5
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Optional, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    CredentialRetrievalError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from contabyx import _convert, _validate
from contabyx.errors import (
    AccessDenied,
    ClientNotFound,
    ConfigurationError,
    ConnectionFailed,
    ContabyxError,
    CredentialsError,
    ServiceError,
    TableNotFound,
    Throttled,
)
from contabyx.layout import (
    BALANCE,
    CLIENTS_INFO_BY_YEAR_TABLE,
    CLIENTS_INFO_TABLE,
    EXPENSE,
    FIGURES,
    INCOME,
    KEY,
    MONTHS,
    Projection,
    month_key,
    month_projection,
    total_projection,
    year_attribute,
    year_projection,
)

if TYPE_CHECKING:
    from boto3.session import Session
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import (
        AttributeValueTypeDef,
        KeysAndAttributesTypeDef,
    )

__all__ = ["ContabyxAPI", "contabyxAPI"]

log = logging.getLogger("contabyx")

#: BatchGetItem takes at most this many keys in one request, across all its tables.
BATCH_KEYS = 100

_TOTAL = total_projection(*FIGURES)
_CREDENTIAL_CODES = frozenset(
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
_ACCESS_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
_THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "Throttling",
        "RequestLimitExceeded",
        "TooManyRequestsException",
    }
)


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class _Scrubber:
    """Removes the explicit credentials from a text; holds them out of vars() and repr."""

    __slots__ = ("_secrets",)

    def __init__(self, *secrets: Optional[str]) -> None:
        # Too short a value is no real credential, and scrubbing it would garble text.
        self._secrets = tuple(s for s in secrets if s and len(s) >= 6)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return "<scrubber>"


class contabyxAPI:
    """Reads the per-client figures the nightly sync stores in DynamoDB.

    Without keys the default AWS credential chain applies (environment, shared
    profile, instance or task role); ``AWS_ENDPOINT_URL_DYNAMODB`` is honoured when
    ``endpoint_url`` is None. Every argument is checked before any network call.

    One instance is safe to share between threads: it holds one botocore client whose
    connection pool has ``max_pool_connections`` connections (default 32).

    >>> api = contabyxAPI(region_name="eu-west-1")          # default credential chain
    >>> api = contabyxAPI("AKIA...", "secret", region_name="eu-west-1",
    ...                   clients_info_table="prod_clients_info",
    ...                   clients_info_by_year_table="prod_clients_info_by_year")
    >>> api.balance(42), api.income(42, year=2019), api.expense(42, 2019, 7)
    (10.5, 1200.0, 35.2)

    :param consistent_read: strongly consistent reads (twice the read capacity).
    :param config: a ``botocore.config.Config`` merged over the defaults (2 s connect
        timeout, 5 s read timeout, standard retry mode with 4 attempts, 32 pooled
        connections).
    :param batch_max_attempts: BatchGetItem requests made for one batch while DynamoDB
        leaves keys unprocessed, before :class:`~contabyx.errors.Throttled` is raised.
    :param batch_backoff_base, batch_backoff_cap: the exponential backoff, with full
        jitter, between those attempts, in seconds.
    """

    def __init__(
        self,
        aws_access_key_id: Optional[str] = None,
        aws_secret_access_key: Optional[str] = None,
        *,
        aws_session_token: Optional[str] = None,
        region_name: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        session: Optional[Session] = None,
        clients_info_table: str = CLIENTS_INFO_TABLE,
        clients_info_by_year_table: str = CLIENTS_INFO_BY_YEAR_TABLE,
        consistent_read: bool = False,
        config: Optional[Config] = None,
        max_pool_connections: int = 32,
        batch_max_attempts: int = 8,
        batch_backoff_base: float = 0.05,
        batch_backoff_cap: float = 2.0,
    ) -> None:
        self._info_table = _validate.check_table_name(clients_info_table, "clients_info_table")
        self._by_year_table = _validate.check_table_name(
            clients_info_by_year_table, "clients_info_by_year_table"
        )
        if self._info_table == self._by_year_table:
            raise ValueError("clients_info_table and clients_info_by_year_table must differ")
        for name, value in (
            ("aws_access_key_id", aws_access_key_id),
            ("aws_secret_access_key", aws_secret_access_key),
            ("aws_session_token", aws_session_token),
            ("region_name", region_name),
            ("endpoint_url", endpoint_url),
        ):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
        if (aws_access_key_id is None) != (aws_secret_access_key is None):
            raise ValueError("pass both aws_access_key_id and aws_secret_access_key, or neither")
        if aws_session_token is not None and aws_access_key_id is None:
            raise ValueError("aws_session_token needs aws_access_key_id and aws_secret_access_key")
        if not isinstance(consistent_read, bool):
            raise TypeError(f"consistent_read must be a bool, not {type(consistent_read).__name__}")
        if config is not None and not isinstance(config, Config):
            raise TypeError(f"config must be a botocore Config, not {type(config).__name__}")
        for name, number in (
            ("max_pool_connections", max_pool_connections),
            ("batch_max_attempts", batch_max_attempts),
        ):
            if isinstance(number, bool) or not isinstance(number, int):
                raise TypeError(f"{name} must be an int, not {type(number).__name__}")
            if number < 1:
                raise ValueError(f"{name} must be >= 1, got {number}")
        if not 0 <= batch_backoff_base <= batch_backoff_cap:
            raise ValueError("need 0 <= batch_backoff_base <= batch_backoff_cap")

        self._consistent_read = consistent_read
        self._batch_max_attempts = batch_max_attempts
        self._backoff_base = float(batch_backoff_base)
        self._backoff_cap = float(batch_backoff_cap)
        self._scrub = _Scrubber(aws_access_key_id, aws_secret_access_key, aws_session_token)

        defaults = Config(
            max_pool_connections=max_pool_connections,
            connect_timeout=2,
            read_timeout=5,
            retries={"mode": "standard", "max_attempts": 4},
            tcp_keepalive=True,
        )
        merged = defaults.merge(config) if config is not None else defaults
        try:
            chosen = session if session is not None else boto3.session.Session()
            self._client: DynamoDBClient = chosen.client(
                "dynamodb",
                aws_access_key_id=aws_access_key_id,
                aws_secret_access_key=aws_secret_access_key,
                aws_session_token=aws_session_token,
                region_name=region_name,
                endpoint_url=endpoint_url,
                config=merged,
            )
        except NoRegionError as exc:
            raise ConfigurationError(
                "no AWS region: pass region_name= or set AWS_REGION or AWS_DEFAULT_REGION"
            ) from exc
        except (BotoCoreError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot set up the DynamoDB client: {self._scrub(_one_line(str(exc)))}"
            ) from exc

    # --- Public surface -------------------------------------------------------------

    @property
    def clients_info_table(self) -> str:
        """Name of the table of client totals."""
        return self._info_table

    @property
    def clients_info_by_year_table(self) -> str:
        """Name of the table of per-year and per-month figures."""
        return self._by_year_table

    @property
    def region_name(self) -> str:
        """The AWS region the client talks to."""
        return str(self._client.meta.region_name)

    @property
    def dynamodb_client(self) -> DynamoDBClient:
        """The botocore low-level client, e.g. to register event hooks for metrics.

        >>> api.dynamodb_client.meta.events.register("before-send.dynamodb", count)
        """
        return self._client

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clients_info_table={self._info_table!r}, "
            f"clients_info_by_year_table={self._by_year_table!r}, "
            f"region_name={self._client.meta.region_name!r}, "
            f"endpoint_url={self._client.meta.endpoint_url!r}, "
            f"consistent_read={self._consistent_read!r})"
        )

    def close(self) -> None:
        """Close the pooled connections. The instance must not be used afterwards."""
        self._client.close()

    def __enter__(self) -> contabyxAPI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def balance(self, id: int) -> float:
        """The client's balance (income minus expense over all time), rounded to cents.

        One GetItem on ``clients_info`` projecting ``clientid, balance``.

        >>> api.balance(42)
        10.5

        :raises ClientNotFound: no client has this id.
        :raises TypeError, ValueError: ``id`` is not an int >= 0.
        """
        clientid = _validate.check_id(id)
        item = self._get_item(self._info_table, clientid, _BALANCE)
        return _convert.amount(item.get(BALANCE))

    def income(self, id: int, year: Optional[int] = None, month: Optional[int] = None) -> float:
        """Total income of the client: over all time, in ``year``, or in ``month`` of ``year``.

        One GetItem projecting only that figure and the key. A known client with nothing
        in that year or month gets 0.0.

        >>> api.income(42), api.income(42, 2019), api.income(42, year=2019, month=7)
        (5300.25, 1200.0, 0.0)

        :raises ClientNotFound: no client has this id.
        :raises TypeError, ValueError: bad id, year (1..9999) or month (1..12, needs a year).
        """
        return self._figure(INCOME, id, year, month)

    def expense(self, id: int, year: Optional[int] = None, month: Optional[int] = None) -> float:
        """Total expenses of the client: over all time, in ``year``, or in ``month`` of ``year``.

        Same arguments, round trip and errors as :meth:`income`.

        >>> api.expense(42), api.expense(42, 2019), api.expense(42, 2019, 7)
        (5289.75, 1180.5, 35.2)
        """
        return self._figure(EXPENSE, id, year, month)

    def client(self, id: int, return_type: str = "total") -> dict[str, Any]:
        """Every figure of one client, in one BatchGetItem request.

        ``return_type`` is ``"total"`` (client totals), ``"by_year"`` (plus a ``"years"``
        dict keyed by int year) or ``"by_month"`` (each year also has a ``"months"`` dict
        keyed by int month). Only years and months with at least one income or expense
        transaction appear. Besides balance, income and expense (floats), every level
        carries ``income_count`` and ``expense_count`` (ints).

        >>> api.client(42)
        {'clientid': 42, 'balance': 10.5, 'income': 5300.25, 'expense': 5289.75,
         'income_count': 31, 'expense_count': 40}
        >>> api.client(42, "by_month")["years"][2019]["months"][7]["expense"]
        35.2

        :raises ClientNotFound: no client has this id.
        :raises TypeError, ValueError: bad id, or ``return_type`` not one of the three.
        """
        clientid = _validate.check_id(id)
        kind = _validate.check_return_type(return_type)
        found = self._fetch([clientid], kind)
        if clientid not in found:
            raise ClientNotFound(clientid, self._info_table)
        return found[clientid]

    def clients(self, ids: Iterable[int], return_type: str = "total") -> dict[int, dict[str, Any]]:
        """:meth:`client` for many ids at once, keyed by id, in first-seen order.

        Ids that do not exist are absent from the result (no ClientNotFound);
        duplicates are read once. Every id is checked before any request. Requests are
        BatchGetItem of up to 100 keys: 100 clients for ``"total"``, 50 otherwise (one
        key in each table).

        >>> api.clients([42, 43, 999999])
        {42: {'clientid': 42, 'balance': 10.5, ...}, 43: {'clientid': 43, ...}}

        :raises TypeError, ValueError: ``ids`` is not an iterable of ints >= 0, or a bad
            ``return_type``.
        """
        clientids = _validate.check_ids(ids)
        kind = _validate.check_return_type(return_type)
        per_request = BATCH_KEYS if kind == "total" else BATCH_KEYS // 2
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(clientids), per_request):
            found.update(self._fetch(clientids[start : start + per_request], kind))
        return {c: found[c] for c in clientids if c in found}

    # --- Requests -------------------------------------------------------------------

    def _figure(self, name: str, id: object, year: object, month: object) -> float:
        clientid = _validate.check_id(id)
        y, m = _validate.check_period(year, month)
        path: tuple[str, ...]
        if y is None:
            table, projection, path = self._info_table, _FIGURE[name], (name,)
        elif m is None:
            table = self._by_year_table
            projection = year_projection(y, name)
            path = (year_attribute(y), name)
        else:
            table = self._by_year_table
            projection = month_projection(y, m, name)
            path = (year_attribute(y), MONTHS, month_key(m), name)
        item = self._get_item(table, clientid, projection)
        return _convert.amount(_convert.dig(item, *path))

    @staticmethod
    def _key(clientid: int) -> dict[str, AttributeValueTypeDef]:
        return {KEY: {"N": str(clientid)}}

    def _get_item(self, table: str, clientid: int, projection: Projection) -> dict[str, Any]:
        try:
            response = self._client.get_item(
                TableName=table,
                Key=self._key(clientid),
                ProjectionExpression=projection.expression,
                ExpressionAttributeNames=projection.names,
                ConsistentRead=self._consistent_read,
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._translate(exc, "GetItem", (table,)) from exc
        raw = response.get("Item")
        # The key is always projected: an item without it is no item at all.
        if not raw or KEY not in raw:
            raise ClientNotFound(clientid, table)
        return _convert.deserialize(raw)

    def _fetch(self, clientids: list[int], kind: str) -> dict[int, dict[str, Any]]:
        """One batch (at most 100 keys) of clients, shaped for ``kind``."""
        keys = [self._key(c) for c in clientids]
        request: dict[str, KeysAndAttributesTypeDef] = {
            self._info_table: {
                "Keys": keys,
                "ProjectionExpression": _TOTAL.expression,
                "ExpressionAttributeNames": _TOTAL.names,
                "ConsistentRead": self._consistent_read,
            }
        }
        if kind != "total":
            # The whole item: the years it holds are only known once it is read, and a
            # projection cannot name attributes by pattern.
            request[self._by_year_table] = {
                "Keys": list(keys),
                "ConsistentRead": self._consistent_read,
            }
        responses = self._batch_get(request)
        infos = {}
        for raw in responses.get(self._info_table, []):
            item = _convert.deserialize(raw)
            infos[int(item[KEY])] = item
        if kind == "total":
            return {c: _convert.client_total(item) for c, item in infos.items()}
        by_year = {}
        for raw in responses.get(self._by_year_table, []):
            item = _convert.deserialize(raw)
            by_year[int(item[KEY])] = item
        with_months = kind == "by_month"
        return {
            c: _convert.client_detail(item, by_year.get(c), with_months)
            for c, item in infos.items()
        }

    def _batch_get(
        self, request: dict[str, KeysAndAttributesTypeDef]
    ) -> dict[str, list[dict[str, Any]]]:
        """BatchGetItem until no key is left unprocessed, with capped exponential backoff
        and full jitter between attempts; Throttled after ``batch_max_attempts``."""
        tables = tuple(request)
        results: dict[str, list[dict[str, Any]]] = {t: [] for t in tables}
        pending = request
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.batch_get_item(RequestItems=pending)
            except (ClientError, BotoCoreError) as exc:
                raise self._translate(exc, "BatchGetItem", tables) from exc
            for table, items in response.get("Responses", {}).items():
                results.setdefault(table, []).extend(cast("list[dict[str, Any]]", items))
            unprocessed = response.get("UnprocessedKeys") or {}
            left: dict[str, KeysAndAttributesTypeDef] = {}
            for table, keys_and_attributes in unprocessed.items():
                if keys_and_attributes.get("Keys"):
                    again = dict(request[table])
                    again["Keys"] = list(keys_and_attributes["Keys"])
                    left[table] = cast("KeysAndAttributesTypeDef", again)
            if not left:
                return results
            count = sum(len(k["Keys"]) for k in left.values())
            if attempt >= self._batch_max_attempts:
                raise Throttled(
                    f"BatchGetItem on {', '.join(tables)} left {count} keys unprocessed "
                    f"after {attempt} attempts: the tables are throttled, try again later"
                )
            delay = random.uniform(0, min(self._backoff_cap, self._backoff_base * 2**attempt))
            log.debug(
                "BatchGetItem left %d keys unprocessed; attempt %d in %.3f s",
                count,
                attempt + 1,
                delay,
            )
            time.sleep(delay)
            pending = left

    def _translate(
        self, exc: ClientError | BotoCoreError, operation: str, tables: tuple[str, ...]
    ) -> ContabyxError:
        """The ContabyxError for an AWS failure: one line, no credentials."""
        where = " or ".join(repr(t) for t in tables)
        region = self._client.meta.region_name
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            detail = self._scrub(_one_line(str(error.get("Message", "")) or code))
            if code == "ResourceNotFoundException":
                return TableNotFound(
                    f"{operation}: table {where} not found in region {region} "
                    f"(ResourceNotFoundException: {detail})"
                )
            if code in _ACCESS_CODES:
                return AccessDenied(
                    f"{operation} on {where}: access denied ({code}: {detail}); "
                    "the credentials need dynamodb:GetItem and dynamodb:BatchGetItem"
                )
            if code in _THROTTLE_CODES:
                return Throttled(
                    f"{operation} on {where}: throttled after retries ({code}: {detail})"
                )
            if code in _CREDENTIAL_CODES:
                return CredentialsError(
                    f"{operation} on {where}: AWS rejected the credentials ({code}: {detail})"
                )
            return ServiceError(f"{operation} on {where} failed ({code}: {detail})")
        detail = self._scrub(_one_line(str(exc)))
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)):
            return CredentialsError(
                f"{operation} on {where}: no usable AWS credentials ({detail}); pass keys, "
                "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile or a role"
            )
        if isinstance(exc, (BotoConnectionError, HTTPClientError, ConnectionClosedError)):
            return ConnectionFailed(
                f"{operation} on {where}: DynamoDB unreachable or too slow ({detail})"
            )
        return ServiceError(f"{operation} on {where} failed ({type(exc).__name__}: {detail})")


_BALANCE = total_projection(BALANCE)
_FIGURE: Mapping[str, Projection] = {
    INCOME: total_projection(INCOME),
    EXPENSE: total_projection(EXPENSE),
}

#: The conventional spelling of the class name; the same class.
ContabyxAPI = contabyxAPI

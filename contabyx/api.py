"""The client library: per-client figures read from the two DynamoDB tables.

This module is the only place where the read side talks to AWS. It uses one botocore
low-level client per :class:`contabyxAPI` instance, created once, shared by every
thread (botocore clients are thread-safe) and pooling its connections. The example
is in :mod:`contabyx`. The items read are those docs/architecture.md lists ("The item
layout"); AWS failures become the errors of :mod:`contabyx.errors`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Optional, Union, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoRegionError

from contabyx import _convert, _validate, backoff
from contabyx.errors import (
    ClientNotFound,
    ConfigurationError,
    Endpoint,
    IncompleteClient,
    OutdatedItem,
    Throttled,
    describe_failure,
    one_line,
    translate,
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
    RUN,
    Projection,
    month_key,
    projection,
    total_projection,
    year_attribute,
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

#: Lookups are milliseconds: these bound a dead or silent endpoint to seconds.
#: Environment variables of the same names as the sync's settings override them.
CONNECT_TIMEOUT_ENV = "AWS_CONNECT_TIMEOUT"
READ_TIMEOUT_ENV = "AWS_READ_TIMEOUT"
DEFAULT_CONNECT_TIMEOUT = 2.0
DEFAULT_READ_TIMEOUT = 5.0
#: Attempts of one request (botocore standard retry mode), the first included.
DEFAULT_MAX_ATTEMPTS = 3
#: A lookup waits less than the sync between BatchGetItem attempts: a caller is waiting.
BATCH_BACKOFF_CAP = 2.0
#: The region variables, in the AWS SDKs' order of precedence.
REGION_ENVS = ("AWS_REGION", "AWS_DEFAULT_REGION")

Amount = Union[float, Decimal]

_TOTAL = total_projection(*FIGURES)
_KEY_ONLY = total_projection()
_FAILURE = "contabyx_failure"


def _timeout(given: Optional[float], env: str, default: float) -> float:
    """A timeout in seconds: ``given``, else the environment variable ``env``, else
    ``default``; ConfigurationError naming the variable when it is not a number > 0."""
    if given is not None:
        if isinstance(given, bool) or not isinstance(given, (int, float)):
            raise TypeError(f"{env.lower()[4:]} must be a number, not {type(given).__name__}")
        if not given > 0:
            raise ValueError(f"{env.lower()[4:]} must be > 0 seconds, got {given}")
        return float(given)
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise ConfigurationError(f"{env}={raw!r} is not a number of seconds > 0; fix or unset it")
    return value


def _total_attempts(retries: Mapping[str, Any]) -> int:
    """Attempts per request, the first included, of a botocore ``retries`` setting
    (whose ``max_attempts`` counts retries only)."""
    if "total_max_attempts" in retries:
        return int(retries["total_max_attempts"])
    return int(retries.get("max_attempts", DEFAULT_MAX_ATTEMPTS - 1)) + 1


def _region(region_name: Optional[str], session: Optional[Session]) -> Optional[str]:
    """The region asked for, else (without a session of the caller's) the first of
    AWS_REGION, AWS_DEFAULT_REGION that is set; None lets botocore use the profile."""
    if region_name is not None or session is not None:
        return region_name
    for name in REGION_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _connect(
    session: Optional[Session], scrub: Callable[[str], str], **arguments: Any
) -> DynamoDBClient:
    """The DynamoDB client of ``session`` (else a new one) made with ``arguments``;
    ConfigurationError saying what is missing when botocore refuses them."""
    try:
        chosen = session if session is not None else boto3.session.Session()
        return chosen.client("dynamodb", **arguments)
    except NoRegionError as exc:
        raise ConfigurationError(
            "no AWS region: pass region_name= or set AWS_REGION or AWS_DEFAULT_REGION"
        ) from exc
    except (BotoCoreError, ValueError) as exc:
        raise ConfigurationError(
            f"cannot set up the DynamoDB client: {scrub(one_line(str(exc)))}"
        ) from exc


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

    Example::

        api = contabyxAPI(region_name="eu-west-1")          # default credential chain
        api = contabyxAPI("AKIA...", "secret", region_name="eu-west-1",
                          clients_info_table="prod_clients_info",
                          clients_info_by_year_table="prod_clients_info_by_year")
        api.balance(42), api.income(42, year=2019), api.expense(42, 2019, 7)
        # (10.5, 1200.0, 35.2)

    The region is ``region_name``, else ``AWS_REGION``, else ``AWS_DEFAULT_REGION``,
    else the profile's.

    :param consistent_read: strongly consistent reads (twice the read capacity).
    :param exact: amounts as ``Decimal``, exactly as stored, instead of floats rounded
        to cents (floats lose cents from 2**46 = 70,368,744,177,664 on).
    :param connect_timeout, read_timeout: seconds; default the environment variables
        ``AWS_CONNECT_TIMEOUT`` and ``AWS_READ_TIMEOUT`` (the sync's settings), else 2
        and 5. A silent endpoint fails a lookup after about ``max_attempts`` read
        timeouts, with each retry logged at INFO on the ``contabyx`` logger.
    :param max_attempts: attempts per request, the first included (botocore standard
        retry mode, exponential backoff).
    :param config: a ``botocore.config.Config`` merged over these defaults (and 32
        pooled connections).
    :param batch_max_attempts: BatchGetItem requests made for one batch while DynamoDB
        leaves keys unprocessed, before :class:`~contabyx.errors.Throttled` is raised.
    :param batch_backoff_base, batch_backoff_cap: the wait between those attempts, in
        seconds (:func:`contabyx.backoff.delay`, the sync's backoff, capped lower).
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
        exact: bool = False,
        connect_timeout: Optional[float] = None,
        read_timeout: Optional[float] = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        config: Optional[Config] = None,
        max_pool_connections: int = 32,
        batch_max_attempts: int = 8,
        batch_backoff_base: float = backoff.BASE,
        batch_backoff_cap: float = BATCH_BACKOFF_CAP,
    ) -> None:
        self._info_table = _validate.check_table_name(clients_info_table, "clients_info_table")
        self._by_year_table = _validate.check_table_name(
            clients_info_by_year_table, "clients_info_by_year_table"
        )
        if self._info_table == self._by_year_table:
            raise ValueError("clients_info_table and clients_info_by_year_table must differ")
        _validate.check_kinds(
            strings={
                "aws_access_key_id": aws_access_key_id,
                "aws_secret_access_key": aws_secret_access_key,
                "aws_session_token": aws_session_token,
                "region_name": region_name,
                "endpoint_url": endpoint_url,
            },
            flags={"consistent_read": consistent_read, "exact": exact},
            counts={
                "max_pool_connections": max_pool_connections,
                "batch_max_attempts": batch_max_attempts,
                "max_attempts": max_attempts,
            },
        )
        _validate.check_credentials(aws_access_key_id, aws_secret_access_key, aws_session_token)
        if config is not None and not isinstance(config, Config):
            raise TypeError(f"config must be a botocore Config, not {type(config).__name__}")
        if not 0 <= batch_backoff_base <= batch_backoff_cap:
            raise ValueError("need 0 <= batch_backoff_base <= batch_backoff_cap")

        self._consistent_read = consistent_read
        self._exact = exact
        self._batch_max_attempts = batch_max_attempts
        self._backoff_base = float(batch_backoff_base)
        self._backoff_cap = float(batch_backoff_cap)
        self._scrub = _Scrubber(aws_access_key_id, aws_secret_access_key, aws_session_token)

        defaults = Config(
            max_pool_connections=max_pool_connections,
            connect_timeout=_timeout(connect_timeout, CONNECT_TIMEOUT_ENV, DEFAULT_CONNECT_TIMEOUT),
            read_timeout=_timeout(read_timeout, READ_TIMEOUT_ENV, DEFAULT_READ_TIMEOUT),
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            tcp_keepalive=True,
        )
        merged = defaults.merge(config) if config is not None else defaults
        self._max_attempts = _total_attempts(getattr(merged, "retries", None) or {})
        self._client = _connect(
            session,
            self._scrub,
            aws_access_key_id=aws_access_key_id,
            aws_secret_access_key=aws_secret_access_key,
            aws_session_token=aws_session_token,
            region_name=_region(region_name, session),
            endpoint_url=endpoint_url,
            config=merged,
        )
        self._endpoint = Endpoint(
            self._client.meta.region_name,
            self._client.meta.endpoint_url,
            self._max_attempts,
            f"{READ_TIMEOUT_ENV}/{CONNECT_TIMEOUT_ENV}",
        )
        events = self._client.meta.events
        events.register("needs-retry.dynamodb", self._note_failure)
        events.register("request-created.dynamodb", self._log_retry)

    def _note_failure(
        self,
        request_dict: dict[str, Any],
        response: Any = None,
        caught_exception: Optional[BaseException] = None,
        **_: Any,
    ) -> None:
        # Kept for _log_retry: botocore retries without saying why above DEBUG.
        request_dict["context"][_FAILURE] = self._scrub(
            describe_failure(response, caught_exception)
        )

    def _log_retry(self, request: Any, operation_name: str, **_: Any) -> None:
        context = getattr(request, "context", None) or {}
        attempt = int(context.get("retries", {}).get("attempt", 1))
        if attempt > 1:
            log.info(
                "DynamoDB %s: attempt %d of %d after %s",
                operation_name,
                attempt,
                self._max_attempts,
                context.get(_FAILURE, "a failure"),
            )

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

        Example::

            api.dynamodb_client.meta.events.register("before-send.dynamodb", count)
        """
        return self._client

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(clients_info_table={self._info_table!r}, "
            f"clients_info_by_year_table={self._by_year_table!r}, "
            f"region_name={self._client.meta.region_name!r}, "
            f"endpoint_url={self._client.meta.endpoint_url!r}, "
            f"consistent_read={self._consistent_read!r}, exact={self._exact!r})"
        )

    def close(self) -> None:
        """Close the pooled connections. The instance must not be used afterwards."""
        self._client.close()

    def __enter__(self) -> contabyxAPI:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def balance(self, id: int) -> Amount:
        """The client's balance (income minus expense over all time), rounded to cents.

        One GetItem on ``clients_info`` projecting ``clientid, balance``.

        Example::

            api.balance(42)    # 10.5

        :raises ClientNotFound: no client has this id.
        :raises TypeError, ValueError: ``id`` is not an int >= 0.
        """
        clientid = _validate.check_id(id)
        item = self._get_item(self._info_table, clientid, _BALANCE)
        return self._money(item.get(BALANCE))

    def income(self, id: int, year: Optional[int] = None, month: Optional[int] = None) -> Amount:
        """Total income of the client: over all time, in ``year``, or in ``month`` of ``year``.

        One GetItem projecting only that figure and the key. A known client with nothing
        in that year or month gets 0.0.

        Example::

            api.income(42), api.income(42, 2019), api.income(42, year=2019, month=7)
            # (5300.25, 1200.0, 0.0)

        :raises ClientNotFound: no client has this id.
        :raises IncompleteClient: a known client without its by-year item (the last
            sync did not complete; re-run it). ``OutdatedItem``: that item is of an
            older layout (re-run the sync).
        :raises TypeError, ValueError: bad id, year (1..9999) or month (1..12, needs a year).
        """
        return self._figure(INCOME, id, year, month)

    def expense(self, id: int, year: Optional[int] = None, month: Optional[int] = None) -> Amount:
        """Total expenses of the client: over all time, in ``year``, or in ``month`` of ``year``.

        Same arguments, round trip and errors as :meth:`income`.

        Example::

            api.expense(42), api.expense(42, 2019), api.expense(42, 2019, 7)
            # (5289.75, 1180.5, 35.2)
        """
        return self._figure(EXPENSE, id, year, month)

    def client(self, id: int, return_type: str = "total") -> dict[str, Any]:
        """Every figure of one client, in one GetItem.

        ``return_type`` is ``"total"`` (client totals, from ``clients_info``),
        ``"by_year"`` (plus a ``"years"`` dict keyed by int year) or ``"by_month"``
        (each year also has a ``"months"`` dict keyed by int month); both of these read
        the client's one ``clients_info_by_year`` item, so totals and years always come
        from the same sync run. Only years and months with at least one income or
        expense transaction appear. Besides balance, income and expense (floats, or
        Decimal with ``exact=True``), every level carries ``income_count`` and
        ``expense_count`` (ints).

        Example::

            api.client(42)
            # {'clientid': 42, 'balance': 10.5, 'income': 5300.25, 'expense': 5289.75,
            #  'income_count': 31, 'expense_count': 40}
            api.client(42, "by_month")["years"][2019]["months"][7]["expense"]    # 35.2

        :raises ClientNotFound: no client has this id.
        :raises IncompleteClient, OutdatedItem: as for :meth:`income`.
        :raises TypeError, ValueError: bad id, or ``return_type`` not one of the three.
        """
        clientid = _validate.check_id(id)
        kind = _validate.check_return_type(return_type)
        if kind == "total":
            item = self._get_item(self._info_table, clientid, _TOTAL)
            return _convert.client_total(item, self._exact)
        found = self._by_year_item(clientid, None)
        return _convert.client_detail(found, kind == "by_month", self._exact)

    def clients(self, ids: Iterable[int], return_type: str = "total") -> dict[int, dict[str, Any]]:
        """:meth:`client` for many ids at once, keyed by id, in first-seen order.

        Ids that do not exist are absent from the result (no ClientNotFound);
        duplicates are read once. Every id is checked before any request. Requests are
        BatchGetItem of up to 100 keys, on ``clients_info`` for ``"total"``, else on
        ``clients_info_by_year`` (then one more, on ``clients_info`` projecting only
        the key, for the ids it lacks, to tell unknown clients from incomplete ones).

        Example::

            api.clients([42, 43, 999999])
            # {42: {'clientid': 42, 'balance': 10.5, ...}, 43: {'clientid': 43, ...}}

        :raises IncompleteClient, OutdatedItem: as for :meth:`income`, naming every
            such client of the request.
        :raises TypeError, ValueError: ``ids`` is not an iterable of ints >= 0, or a bad
            ``return_type``.
        """
        clientids = _validate.check_ids(ids)
        kind = _validate.check_return_type(return_type)
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(clientids), BATCH_KEYS):
            found.update(self._fetch(clientids[start : start + BATCH_KEYS], kind))
        return {c: found[c] for c in clientids if c in found}

    # --- Requests -------------------------------------------------------------------

    def _money(self, value: Any) -> Amount:
        return _convert.money(value, self._exact)

    def _figure(self, name: str, id: object, year: object, month: object) -> Amount:
        clientid = _validate.check_id(id)
        y, m = _validate.check_period(year, month)
        if y is None:
            item = self._get_item(self._info_table, clientid, _FIGURE[name])
            return self._money(item.get(name))
        path: tuple[str, ...] = (year_attribute(y), name)
        if m is not None:
            path = (year_attribute(y), MONTHS, month_key(m), name)
        # The run too: an item without one is of an older layout.
        item = self._by_year_item(clientid, projection((KEY,), (RUN,), path))
        return self._money(_convert.dig(item, *path))

    def _by_year_item(self, clientid: int, wanted: Optional[Projection]) -> dict[str, Any]:
        """The client's ``clients_info_by_year`` item (``wanted`` of it, with ``run``),
        checked to be of the current layout; ClientNotFound or IncompleteClient when
        there is none."""
        try:
            item = self._get_item(self._by_year_table, clientid, wanted)
        except ClientNotFound:
            # Only on this rare path: a second read tells "unknown" from "incomplete".
            self._get_item(self._info_table, clientid, _KEY_ONLY)
            raise IncompleteClient((clientid,), self._by_year_table) from None
        self._check_layout([item])
        return item

    def _check_layout(self, items: Iterable[Mapping[str, Any]], full: bool = False) -> None:
        outdated = tuple(
            int(item[KEY])
            for item in items
            if (not _convert.has_totals(item) if full else RUN not in item)
        )
        if outdated:
            raise OutdatedItem(outdated, self._by_year_table)

    @staticmethod
    def _key(clientid: int) -> dict[str, AttributeValueTypeDef]:
        return {KEY: {"N": str(clientid)}}

    def _get_item(
        self,
        table: str,
        clientid: int,
        wanted: Optional[Projection],
    ) -> dict[str, Any]:
        """One item, or only ``wanted`` of it (None: the whole item)."""
        extra: dict[str, Any] = {}
        if wanted is not None:
            extra = {
                "ProjectionExpression": wanted.expression,
                "ExpressionAttributeNames": wanted.names,
            }
        try:
            response = self._client.get_item(
                TableName=table,
                Key=self._key(clientid),
                ConsistentRead=self._consistent_read,
                **extra,
            )
        except (ClientError, BotoCoreError) as exc:
            raise translate(exc, "GetItem", (table,), self._endpoint, self._scrub) from exc
        raw = response.get("Item")
        # The key is always projected: an item without it is no item at all.
        if not raw or KEY not in raw:
            raise ClientNotFound(clientid, table)
        item = _convert.deserialize(raw)
        if wanted is None:
            self._check_layout([item], full=True)
        return item

    def _fetch(self, clientids: list[int], kind: str) -> dict[int, dict[str, Any]]:
        """One batch (at most 100 keys) of clients, shaped for ``kind``."""
        keys = [self._key(c) for c in clientids]
        if kind == "total":
            infos = self._batch_items(self._info_table, keys, _TOTAL)
            return {c: _convert.client_total(item, self._exact) for c, item in infos.items()}
        # The whole item: the years it holds are only known once it is read, and a
        # projection cannot name attributes by pattern.
        by_year = self._batch_items(self._by_year_table, keys, None)
        self._check_layout(by_year.values(), full=True)
        lacking = [self._key(c) for c in clientids if c not in by_year]
        if lacking:
            known = self._batch_items(self._info_table, lacking, _KEY_ONLY)
            if known:
                raise IncompleteClient(tuple(sorted(known)), self._by_year_table)
        with_months = kind == "by_month"
        return {
            c: _convert.client_detail(item, with_months, self._exact) for c, item in by_year.items()
        }

    def _batch_items(
        self,
        table: str,
        keys: list[dict[str, AttributeValueTypeDef]],
        wanted: Optional[Projection],
    ) -> dict[int, dict[str, Any]]:
        """The items of these keys (at most 100) in ``table``, by clientid."""
        request: KeysAndAttributesTypeDef = {
            "Keys": keys,
            "ConsistentRead": self._consistent_read,
        }
        if wanted is not None:
            request["ProjectionExpression"] = wanted.expression
            request["ExpressionAttributeNames"] = wanted.names
        items = {}
        for raw in self._batch_get({table: request}).get(table, []):
            item = _convert.deserialize(raw)
            items[int(item[KEY])] = item
        return items

    def _batch_get(
        self, request: dict[str, KeysAndAttributesTypeDef]
    ) -> dict[str, list[dict[str, Any]]]:
        """BatchGetItem until no key is left unprocessed, waiting :func:`contabyx.backoff.delay`
        between attempts; Throttled after ``batch_max_attempts``."""
        tables = tuple(request)
        results: dict[str, list[dict[str, Any]]] = {t: [] for t in tables}
        pending = request
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._client.batch_get_item(RequestItems=pending)
            except (ClientError, BotoCoreError) as exc:
                raise translate(exc, "BatchGetItem", tables, self._endpoint, self._scrub) from exc
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
            wait = backoff.delay(attempt, base=self._backoff_base, cap=self._backoff_cap)
            log.info(
                "BatchGetItem left %d keys unprocessed; attempt %d in %.3f s",
                count,
                attempt + 1,
                wait,
            )
            time.sleep(wait)
            pending = left


_BALANCE = total_projection(BALANCE)
_FIGURE: Mapping[str, Projection] = {
    INCOME: total_projection(INCOME),
    EXPENSE: total_projection(EXPENSE),
}

#: The conventional spelling of the class name; the same class.
ContabyxAPI = contabyxAPI

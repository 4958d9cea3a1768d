"""Extract through the Amazon Redshift Data API (``redshift-data``).

:class:`DataApiSource` submits one statement with ``ExecuteStatement``, polls
``DescribeStatement`` with an exponential backoff until it ends, then reads every page
of ``GetStatementResult`` through botocore's paginator, yielding typed rows page by page.
One low-level boto3 client is made per source and shared by every thread.

With ``result_format="CSV"`` (``DATA_API_RESULT_FORMAT=csv``) the statement is run with
``ResultFormat="CSV"`` and its pages are read with ``GetStatementResultV2``: one CSV text
a page, parsed by the standard :mod:`csv` module (see
:class:`~dynamo.extract.values.CsvPageParser`). That spares botocore the parsing of one
JSON structure per field, which costs about as much client CPU as the DynamoDB write
path; it is meant for the sync's numeric views. CSV cannot tell NULL from the empty
string in a text column (both read as ``''``), so JSON stays the default for general use.

Every AWS call of the extract side lives in this module.

Example (needs a cluster)::

    source = DataApiSource(cluster="my-cluster", db_user="awsuser")
    for clientid, balance in source.rows(
        "SELECT clientid, balance FROM contabyx.clients_info WHERE clientid > :last",
        {"last": 0},
    ):
        ...

Values are typed from each column's ``ColumnMetadata.typeName`` by the pure
converters of :mod:`dynamo.extract.values`: integers as ``int``, DECIMAL/NUMERIC
as ``decimal.Decimal`` (never float), floats as ``float``, booleans as ``bool``,
text as ``str``, NULL as ``None``; TIMESTAMP, TIMESTAMPTZ (UTC), DATE and TIME
are parsed to :mod:`datetime` objects, as redshift-connector returns them. This
module only fetches the pages.
"""

from __future__ import annotations

import csv
import logging
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, cast

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoRegionError,
    ReadTimeoutError,
)

from contabyx import backoff
from dynamo.config import Settings
from dynamo.errors import ExtractError
from dynamo.extract import ParamValue, Row, Source, short_sql
from dynamo.extract.values import CsvPageParser, Field, record_converter

if TYPE_CHECKING:
    from mypy_boto3_redshift_data import RedshiftDataAPIServiceClient
    from mypy_boto3_redshift_data.type_defs import DescribeStatementResponseTypeDef

__all__ = ["MAX_ATTEMPTS", "TIMEOUT_ATTEMPTS", "DataApiSource", "ResultFormat"]

_log = logging.getLogger(__name__)

#: botocore's retry modes; "adaptive" adds client-side rate limiting under throttling.
RetryMode = Literal["standard", "adaptive", "legacy"]
#: How the Data API returns a result: typed JSON fields, or one CSV text a page.
ResultFormat = Literal["JSON", "CSV"]

_RUNNING = frozenset({"SUBMITTED", "PICKED", "STARTED"})
_PARAMETER_NAME = re.compile(r"^[0-9A-Za-z_]+$")

#: botocore's attempts per request (first try included) for transient faults: a 5xx
#: answer, a dropped connection, throttling of polls and pages.
MAX_ATTEMPTS = 10
#: Attempts per request when the endpoint cannot be reached or does not answer
#: (connect or read timeout, refused connection): with the default timeouts a silent
#: endpoint fails a request after about 3 x AWS_READ_TIMEOUT = 60 s.
TIMEOUT_ATTEMPTS = 3
#: Capacity errors of a submission, retried by the source (not botocore) with the sync's
#: backoff, at most ``max_retries`` times: the cluster's quota of active statements
#: (200, shared with every user of the cluster) and request throttling.
_CAPACITY_ERRORS = frozenset(
    {"ActiveStatementsExceededException", "ThrottlingException", "TooManyRequestsException"}
)
_SUBMISSIONS = frozenset({"ExecuteStatement", "BatchExecuteStatement"})
_UNREACHABLE = (ConnectTimeoutError, ReadTimeoutError, EndpointConnectionError)
#: Keys this module keeps in botocore's per-request context.
_REASON, _UNANSWERED = "contabyx_retry_reason", "contabyx_unanswered"
#: A result page: a GetStatementResult or GetStatementResultV2 answer.
_Page = Mapping[str, Any]

# --------------------------------------------------------------------------- helpers


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _parameters(params: Mapping[str, ParamValue] | None) -> list[dict[str, str]]:
    """The API's ``Parameters`` list; every value is bound as a string, never spliced."""
    if not params:
        return []
    parameters = []
    for name, value in params.items():
        if not _PARAMETER_NAME.match(name):
            raise ValueError(f"invalid parameter name {name!r}: letters, digits and _ only")
        text = str(value)
        if not text:
            raise ValueError(f"parameter :{name} is empty; the Data API needs a value")
        parameters.append({"name": name, "value": text})
    return parameters


def _check_auth(
    cluster: str | None, db_user: str | None, secret_arn: str | None, workgroup: str | None
) -> None:
    forms = "cluster + db_user, secret_arn (+ cluster), or workgroup (+ secret_arn)"
    if workgroup:
        if cluster or db_user:
            raise ValueError(f"workgroup excludes cluster and db_user; use one of: {forms}")
    elif secret_arn:
        if db_user:
            raise ValueError(f"secret_arn excludes db_user (the secret names it); use: {forms}")
    elif cluster:
        if not db_user:
            raise ValueError(f"cluster needs db_user or secret_arn; use one of: {forms}")
    else:
        raise ValueError(f"no Data API target: use one of: {forms}")


def _result_format(value: str) -> ResultFormat:
    fmt = value.upper() if isinstance(value, str) else value
    if fmt not in ("JSON", "CSV"):
        raise ValueError(f"result_format must be 'JSON' or 'CSV', not {value!r}")
    return "CSV" if fmt == "CSV" else "JSON"


def _new_client(
    session: boto3.Session, config: Config, region: Optional[str], endpoint_url: Optional[str]
) -> RedshiftDataAPIServiceClient:
    try:
        return session.client(
            "redshift-data", region_name=region, endpoint_url=endpoint_url, config=config
        )
    except NoRegionError:
        # botocore's message names neither the argument nor the variables to set.
        raise ValueError(
            "no AWS region: pass region= or set AWS_REGION (AWS_DEFAULT_REGION)"
        ) from None


def _sleep(seconds: float, cancel: Optional[threading.Event]) -> None:
    """Sleep ``seconds``, waking early when ``cancel`` is set."""
    if cancel is None:
        time.sleep(seconds)
    else:
        cancel.wait(seconds)


# --------------------------------------------------------------------------- source


class DataApiSource(Source):
    """A :class:`~dynamo.extract.Source` over the Redshift Data API.

    Authentication, exactly one of:

    - ``cluster`` + ``db_user``: temporary credentials (``GetClusterCredentials``);
    - ``secret_arn`` (optionally with ``cluster``): a Secrets Manager secret;
    - ``workgroup`` (optionally with ``secret_arn``): Redshift Serverless.

    The endpoint is boto3's: ``AWS_ENDPOINT_URL_REDSHIFT_DATA`` (or
    ``AWS_ENDPOINT_URL``) is honoured when ``endpoint_url`` is not given.

    ``result_format`` is how :meth:`rows` fetches results: ``"JSON"`` (the default;
    ``GetStatementResult``, typed fields) or ``"CSV"`` (``GetStatementResultV2``, one
    CSV text a page, several times less client CPU). Both give the same values, except
    that with CSV a NULL in a text column reads as ``''``: use CSV for numeric results
    such as the sync's views (``DATA_API_RESULT_FORMAT`` defaults to csv for that reason,
    while this general-purpose class defaults to JSON).

    Each request waits at most ``connect_timeout`` to connect and ``read_timeout`` for
    an answer. botocore retries transient faults (``max_attempts`` attempts; an endpoint
    that does not answer, :data:`TIMEOUT_ATTEMPTS`); a submission refused for capacity
    (``ActiveStatementsExceededException``, throttling) is retried here instead, with
    :func:`contabyx.backoff.delay`, at most ``max_retries`` times. Every retry is logged at
    INFO. ``statement_timeout`` covers the whole statement: submitting, waiting, reading.

    :meth:`rows` holds one result page in memory at a time; setting its ``cancel``
    cancels the statement while it runs and stops the paging.
    :meth:`execute_script` is one ``BatchExecuteStatement``.

    Safe to share between threads: it holds one thread-safe boto3 client and no
    per-statement state.

    Example (needs a cluster or workgroup)::

        source = DataApiSource(workgroup="analytics", region="eu-west-1")
        source.execute("CREATE SCHEMA IF NOT EXISTS contabyx")
        list(source.rows("SELECT :n::int + 1", {"n": 41}))  # [(42,)]
        source.execute_script(["CREATE SCHEMA IF NOT EXISTS s", "CREATE VIEW s.v AS SELECT 1"])
    """

    def __init__(
        self,
        *,
        database: str = Settings.database,
        cluster: Optional[str] = None,
        db_user: Optional[str] = None,
        secret_arn: Optional[str] = None,
        workgroup: Optional[str] = None,
        session: Optional[boto3.Session] = None,
        region: Optional[str] = None,
        endpoint_url: Optional[str] = None,
        client: Optional[RedshiftDataAPIServiceClient] = None,
        poll_initial: float = 0.01,
        poll_max: float = 1.0,
        statement_timeout: Optional[float] = Settings.statement_timeout,
        max_attempts: int = MAX_ATTEMPTS,
        retry_mode: RetryMode = "standard",
        max_pool_connections: int = 32,
        result_format: str = "JSON",
        max_retries: int = Settings.max_retries,
        connect_timeout: float = Settings.aws_connect_timeout,
        read_timeout: float = Settings.aws_read_timeout,
    ) -> None:
        if not database:
            raise ValueError("database is required")
        _check_auth(cluster, db_user, secret_arn, workgroup)
        if poll_initial <= 0 or poll_max < poll_initial:
            raise ValueError("need 0 < poll_initial <= poll_max")
        if statement_timeout is not None and statement_timeout <= 0:
            raise ValueError("statement_timeout must be positive (or None: no limit)")
        if retry_mode not in ("standard", "adaptive", "legacy"):
            raise ValueError("retry_mode must be 'standard', 'adaptive' or 'legacy'")
        if max_attempts < 1 or max_retries < 0:
            raise ValueError("need max_attempts >= 1 and max_retries >= 0")
        if not (connect_timeout > 0 and read_timeout > 0):
            raise ValueError("connect_timeout and read_timeout must be positive seconds")
        self.database = database
        self.cluster = cluster
        self.db_user = db_user
        self.secret_arn = secret_arn
        self.workgroup = workgroup
        self.poll_initial = poll_initial
        self.poll_max = poll_max
        self.statement_timeout = statement_timeout
        self.result_format = _result_format(result_format)
        self.max_retries = max_retries
        self.max_attempts = max_attempts
        self.read_timeout = read_timeout
        self._owns_client = client is None
        if client is None:
            config = Config(
                retries={"total_max_attempts": max_attempts, "mode": retry_mode},
                max_pool_connections=max_pool_connections,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
            )
            client = _new_client(
                session or boto3.Session(region_name=region), config, region, endpoint_url
            )
        self._client: RedshiftDataAPIServiceClient = client
        events = client.meta.events
        # First, so that its "no retry" wins over botocore's own decision.
        # (botocore's stubs type handlers as returning None; needs-retry ones return.)
        events.register_first("needs-retry.redshift-data", cast(Any, self._needs_retry))
        events.register("request-created.redshift-data", self._log_retry)
        named = {
            "ClusterIdentifier": cluster,
            "DbUser": db_user,
            "SecretArn": secret_arn,
            "WorkgroupName": workgroup,
        }
        self._target = {"Database": database, **{key: v for key, v in named.items() if v}}

    @classmethod
    def from_settings(cls, settings: Settings) -> DataApiSource:
        """The source the sync's :class:`~dynamo.config.Settings` describe.

        ``WORKGROUP`` leaves ``CLUSTER`` out, and ``WORKGROUP`` or ``SECRET_ARN`` leaves
        ``DBUSER`` out (the secret names the user): a config file may keep all of them,
        the Data API takes one form.

        >>> DataApiSource.from_settings(Settings(cluster="my-cluster", aws_region="eu-west-1"))
        DataApiSource(database='dev', cluster='my-cluster', db_user='awsuser', result_format='CSV')
        """
        workgroup, secret_arn = settings.workgroup, settings.secret_arn
        return cls(
            database=settings.database,
            cluster=None if workgroup else settings.cluster,
            db_user=None if workgroup or secret_arn else settings.dbuser,
            secret_arn=secret_arn,
            workgroup=workgroup,
            region=settings.aws_region,
            endpoint_url=settings.aws_endpoint_url_redshift_data,
            statement_timeout=settings.statement_timeout,
            result_format=settings.data_api_result_format,
            max_retries=settings.max_retries,
            connect_timeout=settings.aws_connect_timeout,
            read_timeout=settings.aws_read_timeout,
        )

    def __repr__(self) -> str:
        shown = [f"database={self.database!r}"]
        for name in ("cluster", "db_user", "secret_arn", "workgroup"):
            value = getattr(self, name)
            if value:
                shown.append(f"{name}={value!r}")
        if self.result_format != "JSON":
            shown.append(f"result_format={self.result_format!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    @property
    def client(self) -> RedshiftDataAPIServiceClient:
        """The shared low-level ``redshift-data`` client."""
        return self._client

    # -- Source -----------------------------------------------------------------------

    def execute(self, sql: str) -> None:
        """Run one statement (DDL, DML) and wait until it has FINISHED."""
        deadline = self._deadline()
        self._wait(self._submit(sql, [], deadline=deadline), sql, deadline=deadline)

    def _execute_script(self, sqls: list[str]) -> None:
        """One ``BatchExecuteStatement``: a transaction on the warehouse."""
        preview = f"{short_sql(sqls[0])} (+{len(sqls) - 1} more)" if len(sqls) > 1 else sqls[0]
        deadline = self._deadline()
        request: dict[str, Any] = {"Sqls": sqls, "ClientToken": str(uuid.uuid4()), **self._target}
        statement_id = self._submitted(
            "BatchExecuteStatement",
            preview,
            lambda: self._client.batch_execute_statement(**request)["Id"],
            deadline,
        )
        self._wait(statement_id, preview, deadline=deadline)

    def close(self) -> None:
        """Close the HTTP connections of a client this source made (not a given one)."""
        if self._owns_client:
            self._client.close()

    # -- internals --------------------------------------------------------------------

    def _bind(self, sql: str, params: Mapping[str, ParamValue]) -> list[dict[str, str]]:
        return _parameters(params)

    def _rows(
        self, sql: str, parameters: list[dict[str, str]], cancel: Optional[threading.Event]
    ) -> Iterator[Row]:
        deadline = self._deadline()
        statement_id = self._submit(sql, parameters, self.result_format, deadline, cancel)
        described = self._wait(statement_id, sql, cancel, deadline)
        if not described.get("HasResultSet", True):
            return
        reading = (statement_id, sql, cancel, deadline)
        if self.result_format == "CSV":
            v2 = self._client.get_paginator("get_statement_result_v2")
            yield from _csv_rows(self._pages("GetStatementResultV2", v2, *reading), *reading[:2])
        else:
            v1 = self._client.get_paginator("get_statement_result")
            yield from _json_rows(self._pages("GetStatementResult", v1, *reading))

    def _pages(
        self,
        action: str,
        paginator: Any,
        statement_id: str,
        sql: str,
        cancel: Optional[threading.Event],
        deadline: Optional[float],
    ) -> Iterator[_Page]:
        """The result pages of ``paginator`` (botocore's, of ``action``), which fetches
        each one lazily: each request is made only within the statement's deadline and
        while ``cancel`` is not set, and its errors are translated like every other call's."""
        fetch = iter(paginator.paginate(Id=statement_id))
        while True:
            self._check_reading(cancel, statement_id, sql, deadline)
            with self._aws_errors(action, statement_id, sql):
                page = next(fetch, None)
            if page is None:
                return
            yield page
            # Stop on the last page, not on the paginator's end: a cancel or a deadline
            # that comes after the last row must not fail a read that is complete.
            if not page.get("NextToken"):
                return

    def _deadline(self) -> Optional[float]:
        """When a statement starting now must have been submitted, run and read."""
        if self.statement_timeout is None:
            return None
        return time.monotonic() + self.statement_timeout

    def _submit(
        self,
        sql: str,
        parameters: list[dict[str, str]],
        result_format: ResultFormat = "JSON",
        deadline: Optional[float] = None,
        cancel: Optional[threading.Event] = None,
    ) -> str:
        # One ClientToken per statement: every retry resends the same request, so a
        # retried ExecuteStatement cannot run the statement twice.
        request: dict[str, Any] = {"Sql": sql, "ClientToken": str(uuid.uuid4()), **self._target}
        if parameters:
            request["Parameters"] = parameters
        if result_format != "JSON":  # JSON is the API's default: the request stays as it was
            request["ResultFormat"] = result_format
        return self._submitted(
            "ExecuteStatement",
            sql,
            lambda: self._client.execute_statement(**request)["Id"],
            deadline,
            cancel,
        )

    def _submitted(
        self,
        action: str,
        sql: str,
        submit: Callable[[], str],
        deadline: Optional[float],
        cancel: Optional[threading.Event] = None,
    ) -> str:
        """The id ``submit()`` returns, retrying capacity refusals (see the class)."""
        retries = 0
        while True:
            try:
                with self._aws_errors(action, None, sql, retries):
                    statement_id = submit()
                _log.debug("statement %s submitted: %s", statement_id, short_sql(sql))
                return statement_id
            except ExtractError as err:
                code = _error_code(err.__cause__)
                if code not in _CAPACITY_ERRORS or retries >= self.max_retries:
                    raise
                retries += 1
                pause = backoff.delay(retries)
                if deadline is not None and time.monotonic() + pause >= deadline:
                    raise ExtractError(
                        f"statement (not submitted) {action} timed out after"
                        f" {self.statement_timeout:g} s (STATEMENT_TIMEOUT): still refused"
                        f" ({code}) after {retries - 1} retries; {_CAPACITY_ADVICE[code]}"
                        f" [sql: {short_sql(sql)}]"
                    ) from err.__cause__
                _log.info(
                    "statement (not submitted) %s refused: %s; retry %d of %d in %.2f s",
                    action,
                    code,
                    retries,
                    self.max_retries,
                    pause,
                )
                _sleep(pause, cancel)
                if cancel is not None and cancel.is_set():
                    raise ExtractError(
                        f"statement (not submitted) cancelled: the run is stopping"
                        f" [sql: {short_sql(sql)}]"
                    ) from None

    def _check_reading(
        self,
        cancel: Optional[threading.Event],
        statement_id: str,
        sql: str,
        deadline: Optional[float],
    ) -> None:
        _check_cancel(cancel, statement_id, sql)
        if deadline is not None and time.monotonic() >= deadline:
            raise ExtractError(
                f"statement {statement_id} timed out after {self.statement_timeout:g} s"
                f" (STATEMENT_TIMEOUT) while its result was read [sql: {short_sql(sql)}]"
            )

    def _wait(
        self,
        statement_id: str,
        sql: str,
        cancel: Optional[threading.Event] = None,
        deadline: Optional[float] = None,
    ) -> DescribeStatementResponseTypeDef:
        """Poll until the statement ends; cancel it on timeout, ``cancel`` or interruption."""
        started = time.monotonic()
        delay = self.poll_initial
        finished = False
        try:
            while True:
                with self._aws_errors("DescribeStatement", statement_id, sql):
                    described = self._client.describe_statement(Id=statement_id)
                status = described["Status"]
                if status == "FINISHED":
                    finished = True
                    _log.debug(
                        "statement %s FINISHED in %.3f s", statement_id, time.monotonic() - started
                    )
                    return described
                if status not in _RUNNING:
                    finished = True
                    raise ExtractError(_failure(statement_id, status, described, sql))
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise ExtractError(
                        f"statement {statement_id} timed out after {self.statement_timeout:g} s"
                        f" and was cancelled [sql: {short_sql(sql)}]"
                    )
                pause = delay if deadline is None else min(delay, deadline - now)
                _sleep(pause, cancel)
                _check_cancel(cancel, statement_id, sql)
                delay = min(delay * 1.5, self.poll_max)
        except BaseException:
            if not finished:
                self._cancel(statement_id)
            raise

    def _cancel(self, statement_id: str) -> None:
        try:
            self._client.cancel_statement(Id=statement_id)
            _log.warning("statement %s cancelled", statement_id)
        except (ClientError, BotoCoreError) as err:  # it may have ended meanwhile
            _log.warning("statement %s could not be cancelled: %s", statement_id, err)

    # -- retries and errors -----------------------------------------------------------

    def _needs_retry(
        self,
        *,
        operation: Any,
        request_dict: dict[str, Any],
        response: Any = None,
        caught_exception: Optional[BaseException] = None,
        **_: Any,
    ) -> Optional[bool]:
        """botocore's ``needs-retry`` hook, run before botocore's own decision.

        Notes why the request failed (for :meth:`_log_retry`); returns False, which stops
        botocore's retries, for a capacity refusal of a submission (:meth:`_submitted`
        retries those, so each one counts once) and once an endpoint has not answered
        :data:`TIMEOUT_ATTEMPTS` times. None leaves the decision to botocore.
        """
        reason = _failure_reason(response, caught_exception)
        if reason is None:
            return None
        context = request_dict["context"]
        context[_REASON] = reason
        if operation.name in _SUBMISSIONS and reason in _CAPACITY_ERRORS:
            return False
        if isinstance(caught_exception, _UNREACHABLE):
            context[_UNANSWERED] = context.get(_UNANSWERED, 0) + 1
            if context[_UNANSWERED] >= TIMEOUT_ATTEMPTS:
                return False
        return None

    def _log_retry(self, *, request: Any, operation_name: str, **_: Any) -> None:
        """botocore's ``request-created`` hook: each retry it makes, logged at INFO."""
        attempt = request.context.get("retries", {}).get("attempt", 1)
        if attempt > 1:
            _log.info(
                "Data API %s to %s: retry %d after %s",
                operation_name,
                request.url,
                attempt - 1,
                request.context.get(_REASON, "an error"),
            )

    @contextmanager
    def _aws_errors(
        self, action: str, statement_id: Optional[str], sql: str, retries: int = 0
    ) -> Iterator[None]:
        """Turn botocore errors into one-line :class:`ExtractError` naming the statement
        and, for an endpoint that does not answer or a busy cluster, what to do."""
        name = f"statement {statement_id}" if statement_id else "statement (not submitted)"
        where = f"[sql: {short_sql(sql)}]"
        try:
            yield
        except ClientError as err:
            code = _error_code(err) or "ClientError"
            message = _one_line(err.response.get("Error", {}).get("Message", "") or str(err))
            if code in _CAPACITY_ERRORS and retries:
                raise ExtractError(
                    f"{name} {action} failed after {retries} retries: {code}: {message}:"
                    f" {_CAPACITY_ADVICE[code]} {where}"
                ) from err
            raise ExtractError(f"{name} {action} failed: {code}: {message} {where}") from err
        except _UNREACHABLE as err:
            endpoint = str(err.kwargs.get("endpoint_url") or self._client.meta.endpoint_url)
            endpoint = endpoint.rstrip("/")
            what = (
                "could not be reached"
                if type(err) is EndpointConnectionError
                else ("did not answer")
            )
            raise ExtractError(
                f"{name} {action} failed: the Data API endpoint {endpoint} {what}"
                f" ({type(err).__name__}, {min(TIMEOUT_ATTEMPTS, self.max_attempts)} attempts,"
                f" AWS_READ_TIMEOUT={self.read_timeout:g} s): check"
                f" AWS_ENDPOINT_URL_REDSHIFT_DATA, AWS_REGION and the network, then re-run"
                f" {where}"
            ) from err
        except BotoCoreError as err:
            raise ExtractError(
                f"{name} {action} failed: {type(err).__name__}: {_one_line(str(err))} {where}"
            ) from err


def _json_rows(pages: Iterable[_Page]) -> Iterator[Row]:
    """The rows of a FINISHED JSON statement, page by page."""
    convert: Optional[Callable[[Sequence[Field]], Row]] = None
    for page in pages:
        records = page.get("Records") or []
        # An empty result may come without ColumnMetadata: it has no row to convert.
        if convert is None and (records or page.get("ColumnMetadata")):
            width = len(records[0]) if records else 0
            convert = record_converter(page.get("ColumnMetadata"), width)
        if convert is not None:
            for record in records:
                yield convert(record)  # type: ignore[arg-type]


def _csv_rows(pages: Iterable[_Page], statement_id: str, sql: str) -> Iterator[Row]:
    """The rows of a FINISHED ``ResultFormat="CSV"`` statement, page by page."""
    parser: Optional[CsvPageParser] = None
    count, total = 0, None
    for page in pages:
        first_page = parser is None
        if parser is None:
            parser = CsvPageParser(page.get("ColumnMetadata"))
        rows = parser.rows(page.get("Records") or [], first_page=first_page)
        for row in _read_csv(rows, statement_id, sql):
            count += 1
            yield row
        total = page.get("TotalNumRows")
    if isinstance(total, int) and total != count:
        _log.warning(
            "statement %s: read %d CSV rows, the result has %d", statement_id, count, total
        )


def _check_cancel(cancel: Optional[threading.Event], statement_id: str, sql: str) -> None:
    if cancel is not None and cancel.is_set():
        raise ExtractError(
            f"statement {statement_id} cancelled: the run is stopping [sql: {short_sql(sql)}]"
        )


def _read_csv(rows: Iterator[Row], statement_id: str, sql: str) -> Iterator[Row]:
    """``rows`` of one CSV page; a page that cannot be read is an :class:`ExtractError`."""
    while True:
        # next() alone is guarded: an error raised where the row is used is not the page's.
        try:
            row = next(rows, None)
        except (csv.Error, ValueError) as err:
            raise ExtractError(
                f"statement {statement_id} GetStatementResultV2 returned a CSV page"
                f" that could not be read: {_one_line(str(err))} [sql: {short_sql(sql)}]"
            ) from err
        if row is None:
            return
        yield row


def _failure(
    statement_id: str, status: str, described: DescribeStatementResponseTypeDef, sql: str
) -> str:
    error = described.get("Error") or "no error message"
    where = sql
    for sub in described.get("SubStatements") or []:
        if sub.get("Status") in ("FAILED", "ABORTED"):
            error = sub.get("Error") or error
            where = sub.get("QueryString") or where
            break
    return f"statement {statement_id} {status}: {_one_line(error)} [sql: {short_sql(where)}]"


_THROTTLED_ADVICE = (
    "the Data API is throttling this account's requests: lower READERS, or raise"
    " MAX_RETRIES, then re-run"
)
#: What to do when a submission is still refused after every retry.
_CAPACITY_ADVICE = {
    "ActiveStatementsExceededException": (
        "the cluster already runs its quota of 200 active statements, shared with every"
        " user: lower READERS, run when it is less busy, or raise MAX_RETRIES; then re-run"
    ),
    "ThrottlingException": _THROTTLED_ADVICE,
    "TooManyRequestsException": _THROTTLED_ADVICE,
}


def _error_code(err: Optional[BaseException]) -> Optional[str]:
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code") or "") or None
    return None


def _failure_reason(response: Any, caught_exception: Optional[BaseException]) -> Optional[str]:
    """Why an attempt failed, in a few words; None when it did not."""
    if caught_exception is not None:
        return type(caught_exception).__name__
    if not response:
        return None
    http, parsed = response
    # A DescribeStatement answer has an "Error" too: the statement's text, not a code.
    error = parsed.get("Error") if isinstance(parsed, dict) else None
    if isinstance(error, dict) and error.get("Code"):
        return str(error["Code"])
    status = getattr(http, "status_code", 200)
    return f"HTTP {status}" if status >= 400 else None

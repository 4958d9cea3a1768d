"""Statement store: asynchronous execution on PostgreSQL, lifecycle, results, cancel.

Each submitted statement (or batch) gets a UUID and runs on a bounded pool of worker
threads, each statement on its own PostgreSQL connection, through the lifecycle the
Data API reports: SUBMITTED -> PICKED -> STARTED -> FINISHED | FAILED | ABORTED.
A batch runs its SQL in one transaction (all or nothing) unless ``AUTO_COMMIT``.
Results are kept in memory as PostgreSQL text; the store forgets the oldest finished
statements beyond ``max_statements`` or older than ``retention_seconds``. As on AWS, a
cluster (or workgroup) runs at most ``max_active_statements`` statements at once
(:data:`MAX_ACTIVE_STATEMENTS`, the Data API's quota); one more is refused with
``ActiveStatementsExceededException``.

Example::

    store = StatementStore("host=/tmp/pg port=5432 user=postgres dbname=dev")
    statement = store.submit(StatementRequest(sqls=["SELECT 1"], database="dev"))
    while not store.get(statement.id).done:
        time.sleep(0.05)
    store.close()
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ..sqltext import without_table_attributes
from .errors import active_statements_exceeded, not_found, validation
from .params import bind_parameters
from .values import Column, Row
from .view_rules import check_view_replacement

__all__ = [
    "ABORTED",
    "FAILED",
    "FINISHED",
    "MAX_ACTIVE_STATEMENTS",
    "PICKED",
    "STARTED",
    "SUBMITTED",
    "Result",
    "Statement",
    "StatementRequest",
    "StatementStore",
    "SubStatement",
]

_log = logging.getLogger(__name__)

SUBMITTED = "SUBMITTED"
PICKED = "PICKED"
STARTED = "STARTED"
FINISHED = "FINISHED"
FAILED = "FAILED"
ABORTED = "ABORTED"
_DONE = frozenset({FINISHED, FAILED, ABORTED})
#: The Data API's quota of active (submitted, not ended) statements per cluster or
#: workgroup, shared by every user of it.
MAX_ACTIVE_STATEMENTS = 200

_CANCEL_RETRY_SECONDS = 0.2
_CANCEL_RETRY_LIMIT = 100
_APPLICATION_NAME = "contabyx-dataapi"

# Commands PostgreSQL refuses inside a transaction block.
_AUTOCOMMIT_ONLY = ("vacuum", "create database", "drop database", "alter system", "reindex")


@dataclass
class Result:
    """A result set: column descriptions and the rows as PostgreSQL text."""

    columns: list[Column]
    rows: list[Row]
    size: int


@dataclass
class StatementRequest:
    """What the caller asked to run, and the identity it claims (echoed back, not checked)."""

    sqls: list[str]
    database: str
    is_batch: bool = False
    parameters: Optional[list[dict[str, str]]] = None
    result_format: str = "JSON"
    execution_mode: str = "TRANSACTION"
    db_user: Optional[str] = None
    cluster_identifier: Optional[str] = None
    workgroup_name: Optional[str] = None
    secret_arn: Optional[str] = None
    statement_name: Optional[str] = None
    client_token: Optional[str] = None


@dataclass
class SubStatement:
    """One SQL of a statement; a single ExecuteStatement has exactly one."""

    id: str
    sql: str
    created_at: float
    status: str = SUBMITTED
    updated_at: float = 0.0
    started_ns: int = 0
    duration_ns: int = -1
    error: Optional[str] = None
    result: Optional[Result] = None
    rows_affected: int = -1
    query_id: int = -1

    @property
    def has_result_set(self) -> bool:
        """True once a row-returning SQL finished."""
        return self.result is not None

    @property
    def result_rows(self) -> int:
        """Rows returned, or rows affected, -1 while unknown (as the API reports)."""
        if self.result is not None:
            return len(self.result.rows)
        return self.rows_affected

    @property
    def result_size(self) -> int:
        """Bytes of the result, -1 while unknown."""
        if self.result is not None:
            return self.result.size
        return 0 if self.status == FINISHED else -1


@dataclass
class Statement:
    """A submitted ExecuteStatement or BatchExecuteStatement and its progress."""

    id: str
    request: StatementRequest
    subs: list[SubStatement]
    created_at: float
    status: str = SUBMITTED
    updated_at: float = 0.0
    started_ns: int = 0
    duration_ns: int = -1
    error: Optional[str] = None
    pid: int = -1
    cancel_requested: bool = False
    committing: bool = False
    conn: Optional[psycopg.Connection[Any]] = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        """True once FINISHED, FAILED or ABORTED."""
        return self.status in _DONE

    def _touch(self, status: Optional[str] = None) -> None:
        if status is not None:
            self.status = status
        self.updated_at = time.time()


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, psycopg.Error) and exc.diag.message_primary:
        return f"ERROR: {exc.diag.message_primary}"
    return f"ERROR: {str(exc).strip() or type(exc).__name__}"


def _needs_autocommit(sql: str) -> bool:
    words = " ".join(sql.strip().lower().split()[:2])
    return words.startswith(_AUTOCOMMIT_ONLY)


def _rollback_quietly(conn: psycopg.Connection[Any]) -> None:
    if conn.autocommit or conn.closed:
        return
    try:
        conn.rollback()
    except psycopg.Error:
        # A broken connection is discarded anyway, and the server rolls back then.
        _log.debug("rollback failed", exc_info=True)


class _Cancelled(Exception):
    """The caller cancelled the statement."""


class StatementStore:
    """Runs statements on PostgreSQL in the background and keeps their outcome.

    ``conninfo`` names the server (its ``dbname`` is replaced by each request's
    ``Database``). Thread safe: every public method may be called concurrently.

    Example::

        with StatementStore(conninfo, workers=8) as store:
            stmt = store.submit(StatementRequest(sqls=["SELECT 1"], database="dev"))
            store.cancel(stmt.id)
    """

    def __init__(
        self,
        conninfo: str,
        *,
        workers: int = 8,
        max_statements: int = 10_000,
        retention_seconds: float = 24 * 3600,
        max_active_statements: int = MAX_ACTIVE_STATEMENTS,
    ) -> None:
        if max_active_statements < 1:
            raise ValueError("max_active_statements must be at least 1")
        self._max_active = max_active_statements
        self._conninfo = conninfo
        self._default_database = str(conninfo_to_dict(conninfo).get("dbname") or "dev")
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataapi-sql")
        self._lock = threading.Lock()
        self._statements: dict[str, Statement] = {}
        self._tokens: dict[str, str] = {}
        self._max_statements = max_statements
        self._retention = retention_seconds
        self._query_ids = 0
        self._closed = False

    @property
    def default_database(self) -> str:
        """The database of the configured conninfo, used when a request names none."""
        return self._default_database

    def __enter__(self) -> StatementStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting work, cancel running SQL and wait for the workers."""
        with self._lock:
            self._closed = True
            running = [s for s in self._statements.values() if not s.done]
        for statement in running:
            try:
                self.cancel(statement.id)
            except Exception:  # noqa: S112 - best effort on shutdown
                continue
        self._pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, request: StatementRequest) -> Statement:
        """Register a statement and queue it; returns at once (the SQL runs later)."""
        for sql in request.sqls:
            # Fail fast on placeholder mistakes: the API rejects them synchronously.
            bind_parameters(sql, request.parameters)
        now = time.time()
        with self._lock:
            if self._closed:
                raise RuntimeError("the statement store is closed")
            if request.client_token is not None:
                known = self._statements.get(self._tokens.get(request.client_token, ""))
                if known is not None:
                    return known
            if self._active(request) >= self._max_active:
                raise active_statements_exceeded(self._max_active)
            statement_id = str(uuid.uuid4())
            if request.is_batch:
                subs = [
                    SubStatement(id=f"{statement_id}:{n}", sql=sql, created_at=now, updated_at=now)
                    for n, sql in enumerate(request.sqls, start=1)
                ]
            else:
                subs = [
                    SubStatement(
                        id=statement_id, sql=request.sqls[0], created_at=now, updated_at=now
                    )
                ]
            statement = Statement(
                id=statement_id, request=request, subs=subs, created_at=now, updated_at=now
            )
            self._statements[statement_id] = statement
            if request.client_token is not None:
                self._tokens[request.client_token] = statement_id
            self._evict(now)
        self._pool.submit(self._run, statement)
        return statement

    def _active(self, request: StatementRequest) -> int:
        """Statements not ended on ``request``'s cluster or workgroup (under the lock)."""
        target = (request.cluster_identifier, request.workgroup_name)
        return sum(
            1
            for s in self._statements.values()
            if not s.done and (s.request.cluster_identifier, s.request.workgroup_name) == target
        )

    def get(self, statement_id: str) -> tuple[Statement, Optional[SubStatement]]:
        """The statement and, for an id ``<id>:<n>``, its sub statement.

        Raises ResourceNotFoundException for ids the store does not know.
        """
        base, _, sub = statement_id.partition(":")
        with self._lock:
            statement = self._statements.get(base)
        if statement is None:
            raise not_found(f"Query does not exist: {statement_id}", statement_id)
        if not sub:
            return statement, None
        number = int(sub) if sub.isdigit() else 0
        if not statement.request.is_batch or not 1 <= number <= len(statement.subs):
            raise not_found(f"Query does not exist: {statement_id}", statement_id)
        return statement, statement.subs[number - 1]

    def snapshot(self) -> list[Statement]:
        """All kept statements, newest first."""
        with self._lock:
            return sorted(self._statements.values(), key=lambda s: s.created_at, reverse=True)

    def cancel(self, statement_id: str) -> None:
        """Abort a statement that has not finished; its transaction is rolled back.

        Raises ValidationException when it already ended, as the API does.
        """
        statement, _ = self.get(statement_id.partition(":")[0])
        with self._lock:
            if statement.done or statement.committing:
                state = FINISHED if statement.committing else statement.status
                raise validation(f"Could not cancel a query that is already in {state} state.")
            statement.cancel_requested = True
            if statement.status == SUBMITTED:
                self._finish_aborted(statement)
                return
        threading.Thread(
            target=self._cancel_until_done, args=(statement,), daemon=True, name="dataapi-cancel"
        ).start()

    def _cancel_until_done(self, statement: Statement) -> None:
        # A cancel request that reaches the backend between two queries is lost, so it
        # is repeated until the worker notices.
        for _ in range(_CANCEL_RETRY_LIMIT):
            with self._lock:
                conn = statement.conn
                if statement.done or statement.committing:
                    return
            if conn is not None:
                try:
                    conn.cancel_safe(timeout=5.0)
                except Exception as exc:  # the worker may be closing the connection
                    _log.debug("cancel of %s not sent: %s", statement.id, type(exc).__name__)
            time.sleep(_CANCEL_RETRY_SECONDS)

    def _evict(self, now: float) -> None:
        horizon = now - self._retention
        excess = len(self._statements) - self._max_statements
        for key in list(self._statements):
            statement = self._statements[key]
            if not statement.done:
                continue
            if excess > 0 or statement.created_at < horizon:
                del self._statements[key]
                if statement.request.client_token is not None:
                    self._tokens.pop(statement.request.client_token, None)
                excess -= 1
            elif excess <= 0:
                # Insertion order is creation order: nothing later is older.
                break

    def _finish_aborted(self, statement: Statement) -> None:
        for sub in statement.subs:
            if sub.status not in _DONE:
                sub.status, sub.updated_at = ABORTED, time.time()
        if statement.started_ns:
            statement.duration_ns = time.perf_counter_ns() - statement.started_ns
        statement._touch(ABORTED)

    def _connect(self, database: str) -> psycopg.Connection[Any]:
        conninfo = make_conninfo(
            self._conninfo,
            dbname=database,
            application_name=_APPLICATION_NAME,
            client_encoding="UTF8",
        )
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
        # Redshift's text forms: ISO dates, UTC session time zone.
        conn.execute("SET DateStyle TO ISO, MDY")
        conn.execute("SET TimeZone TO 'UTC'")
        conn.execute("SET IntervalStyle TO postgres")
        return conn

    def _run(self, statement: Statement) -> None:
        with self._lock:
            if statement.status != SUBMITTED:
                return
            statement._touch(PICKED)
        try:
            conn = self._connect(statement.request.database)
        except psycopg.Error as exc:
            with self._lock:
                self._fail(statement, statement.subs[0], _error_text(exc))
            return
        try:
            self._execute(statement, conn)
        except _Cancelled:
            _rollback_quietly(conn)
            with self._lock:
                self._finish_aborted(statement)
        except Exception as exc:  # a bug here must not leave the statement running forever
            _log.exception("statement %s crashed", statement.id)
            _rollback_quietly(conn)
            with self._lock:
                running = next((s for s in statement.subs if s.status not in _DONE), None)
                self._fail(statement, running or statement.subs[-1], _error_text(exc))
        finally:
            with self._lock:
                statement.conn = None
            conn.close()

    def _fail(self, statement: Statement, sub: SubStatement, message: str) -> None:
        now = time.time()
        sub.status, sub.error, sub.updated_at = FAILED, message, now
        if sub.started_ns:
            sub.duration_ns = time.perf_counter_ns() - sub.started_ns
        for other in statement.subs:
            if other.status not in _DONE:
                other.status, other.updated_at = ABORTED, now
        if statement.started_ns:
            statement.duration_ns = time.perf_counter_ns() - statement.started_ns
        statement.error = message
        statement._touch(FAILED)

    def _execute(self, statement: Statement, conn: psycopg.Connection[Any]) -> None:
        request = statement.request
        transactional = request.execution_mode == "TRANSACTION" and not (
            len(request.sqls) == 1 and _needs_autocommit(request.sqls[0])
        )
        with self._lock:
            if statement.cancel_requested:
                raise _Cancelled
            statement.conn = conn
            statement.pid = conn.info.backend_pid
            statement.started_ns = time.perf_counter_ns()
            statement._touch(STARTED)
        conn.autocommit = not transactional
        for sub in statement.subs:
            with self._lock:
                if statement.cancel_requested:
                    raise _Cancelled
                self._query_ids += 1
                sub.query_id = self._query_ids
                sub.started_ns = time.perf_counter_ns()
                sub.status, sub.updated_at = STARTED, time.time()
            try:
                result, affected = self._run_sql(conn, sub.sql, request.parameters)
            except psycopg.Error as exc:
                if statement.cancel_requested:
                    raise _Cancelled from exc
                # Roll back before FAILED is visible, so callers never see half a batch.
                _rollback_quietly(conn)
                with self._lock:
                    self._fail(statement, sub, _error_text(exc))
                return
            with self._lock:
                sub.result, sub.rows_affected = result, affected
                sub.duration_ns = time.perf_counter_ns() - sub.started_ns
                sub.status, sub.updated_at = FINISHED, time.time()
                # Later subs never start once cancelled; earlier results stand unless rolled back.
        with self._lock:
            if statement.cancel_requested:
                raise _Cancelled
            statement.committing = True
        if transactional:
            try:
                conn.commit()
            except psycopg.Error as exc:
                with self._lock:
                    statement.committing = False
                    self._fail(statement, statement.subs[-1], _error_text(exc))
                return
        with self._lock:
            statement.duration_ns = time.perf_counter_ns() - statement.started_ns
            statement._touch(FINISHED)

    def _run_sql(
        self,
        conn: psycopg.Connection[Any],
        sql: str,
        parameters: Optional[list[dict[str, str]]],
    ) -> tuple[Optional[Result], int]:
        # Redshift's DISTKEY/SORTKEY have no PostgreSQL syntax; they change no result.
        query, values = bind_parameters(without_table_attributes(sql), parameters)
        encoding = conn.info.encoding
        result: Optional[Result] = None
        refs: _TableRefs = {}
        check_view_replacement(conn, query)
        with conn.cursor() as cur:
            cur.execute(query, values)
            affected = max(cur.rowcount, 0)
            # Several statements in one Sql (no parameters): the last result set wins.
            while True:
                pgresult = cur.pgresult
                if pgresult is not None and pgresult.status == pq.ExecStatus.TUPLES_OK:
                    result, refs = _collect(pgresult, encoding), _table_refs(pgresult)
                    affected = len(result.rows)
                elif pgresult is not None:
                    affected = max(cur.rowcount, 0)
                if not cur.nextset():
                    break
        if result is not None:
            result.columns = _describe_columns(conn, result.columns, refs)
        return result, affected


_TableRefs = dict[int, tuple[int, int]]


def _table_refs(pgresult: pq.abc.PGresult) -> _TableRefs:
    """Source ``(table oid, column number)`` per result column, where PostgreSQL knows it."""
    refs: _TableRefs = {}
    for index in range(pgresult.nfields):
        table = pgresult.ftable(index)
        if table:
            refs[index] = (table, pgresult.ftablecol(index))
    return refs


def _collect(pgresult: pq.abc.PGresult, encoding: str) -> Result:
    nfields = pgresult.nfields
    columns = [
        Column(
            name=(pgresult.fname(index) or b"").decode(encoding),
            type_oid=pgresult.ftype(index),
            type_modifier=pgresult.fmod(index),
        )
        for index in range(nfields)
    ]
    rows: list[Row] = []
    size = 0
    for row_index in range(pgresult.ntuples):
        row: list[Optional[str]] = []
        for index in range(nfields):
            raw = pgresult.get_value(row_index, index)
            if raw is None:
                row.append(None)
            else:
                size += len(raw)
                row.append(raw.decode(encoding))
        rows.append(tuple(row))
    return Result(columns=columns, rows=rows, size=size)


def _describe_columns(
    conn: psycopg.Connection[Any], columns: Sequence[Column], refs: _TableRefs
) -> list[Column]:
    """Add schema, table, nullability and type names from the catalog."""
    tables = sorted({table for table, _ in refs.values()})
    oids = sorted({column.type_oid for column in columns})
    sources: dict[tuple[int, int], tuple[str, str, bool]] = {}
    type_names: dict[int, str] = {}
    with conn.cursor() as cur:
        cur.execute("SELECT oid::int8, typname::text FROM pg_type WHERE oid = ANY(%s)", (oids,))
        type_names = {int(oid): str(name) for oid, name in cur.fetchall()}
        if tables:
            cur.execute(
                "SELECT c.oid::int8, a.attnum::int4, n.nspname::text, c.relname::text,"
                " a.attnotnull FROM pg_attribute a"
                " JOIN pg_class c ON c.oid = a.attrelid"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE a.attrelid = ANY(%s) AND a.attnum > 0",
                (tables,),
            )
            for table, attnum, schema, relname, notnull in cur.fetchall():
                sources[(int(table), int(attnum))] = (str(schema), str(relname), bool(notnull))
    described: list[Column] = []
    for index, column in enumerate(columns):
        schema, table, notnull = sources.get(refs.get(index, (0, 0)), ("", "", False))
        described.append(
            Column(
                name=column.name,
                type_oid=column.type_oid,
                type_modifier=column.type_modifier,
                type_name=type_names.get(column.type_oid),
                schema_name=schema,
                table_name=table,
                nullable=0 if notnull else 1,
            )
        )
    return described

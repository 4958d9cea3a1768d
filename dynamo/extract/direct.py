"""Extract through a direct connection to the warehouse (``redshift_connector``).

:class:`DirectSource` returns the same rows, with the same Python types, as
:class:`~dynamo.extract.data_api.DataApiSource`: integers as ``int``,
DECIMAL/NUMERIC as ``decimal.Decimal``, text as ``str``, NULL as ``None``,
TIMESTAMP as ``datetime`` (TIMESTAMPTZ aware, UTC), DATE as ``date``.

The SQL uses the Data API's ``:name`` placeholders. :func:`to_qmark` rewrites
them, with a small SQL scanner that leaves ``::casts``, strings, quoted
identifiers, dollar-quoted bodies and comments alone, into the driver's ``?``
placeholders; the values travel as bound parameters (as text, like the Data
API's), never spliced into the SQL.

Each statement is one plain ``execute`` (which redshift_connector sends as a
prepared statement) followed by ``fetchmany``; there is no server-side cursor.
Amazon Redshift documents one open cursor per session, materialises a cursor's
whole result on the leader node and caps ``FETCH`` at 1,000 rows on single-node
clusters, and drivers report a prepared ``DECLARE`` failing there; the local wire
endpoint refuses both, so a cursor cannot come back unnoticed.

Memory: redshift_connector reads the **whole result** of a statement into the
client on ``execute``; ``fetch_size`` only bounds how many rows are turned into
tuples at a time. What keeps the sync's memory flat is that its range statements
are bounded (``CHUNK_CLIENTS`` clients each, times ``READERS`` statements at
once), not anything here: do not send this source an unbounded query.

Example (needs a warehouse)::

    source = DirectSource(host="example.abc.eu-west-1.redshift.amazonaws.com", password="...")
    for clientid, balance in source.rows(
        "SELECT clientid, balance FROM contabyx.clients_info WHERE clientid > :last",
        {"last": 0},
    ):
        ...
    source.close()
"""

from __future__ import annotations

import logging
import re
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Callable, Optional

import redshift_connector
from redshift_connector.error import Error as _DriverError

from dynamo.config import Settings
from dynamo.errors import ExtractError
from dynamo.extract import ParamValue, Row, Source, short_sql

__all__ = ["DirectSource", "ParameterError", "to_qmark"]

_log = logging.getLogger(__name__)

_NAME = re.compile(r"[0-9A-Za-z_]+")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_MIN_SCRUBBED = 4
#: A statement ready for the driver: its ``?`` text and the values, or None for none.
_Bound = tuple[str, Optional[list[str]]]


class ParameterError(ExtractError, ValueError):
    """The SQL and its parameters do not agree (a ``:name`` without a value)."""


# --------------------------------------------------------------------------- :name


def _ident_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_$"


def _skip_quoted(sql: str, i: int) -> int:
    """Index just past the string literal, quoted identifier, comment or dollar-quoted
    body starting at ``i``, or ``i`` itself when none starts there."""
    ch = sql[i]
    if ch == "'":
        # E'...' strings take backslash escapes; the E must not end an identifier.
        escapes = i > 0 and sql[i - 1] in "eE" and (i < 2 or not _ident_char(sql[i - 2]))
        return _end_of_quoted(sql, i, "'", escapes)
    if ch == '"':
        return _end_of_quoted(sql, i, '"')
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end == -1 else end + 1
    if sql.startswith("/*", i):
        return _end_of_block_comment(sql, i)
    if ch == "$" and (i == 0 or not _ident_char(sql[i - 1])):
        return _end_of_dollar_quoted(sql, i)
    return i


def _end_of_quoted(sql: str, i: int, quote: str, escapes: bool = False) -> int:
    """Index just past the ``quote``-delimited text opening at ``i``; a doubled quote is
    part of the text, and so, with ``escapes``, is any character after a backslash."""
    n = len(sql)
    i += 1
    while i < n:
        if escapes and sql[i] == "\\":
            i += 2
        elif sql[i] != quote:
            i += 1
        elif sql.startswith(quote * 2, i):
            i += 2
        else:
            return i + 1
    return n


def _end_of_block_comment(sql: str, i: int) -> int:
    """Index just past the ``/* ... */`` comment opening at ``i``; they nest."""
    depth, i = 1, i + 2
    while i < len(sql) and depth:
        if sql.startswith("/*", i):
            depth, i = depth + 1, i + 2
        elif sql.startswith("*/", i):
            depth, i = depth - 1, i + 2
        else:
            i += 1
    return i


def _end_of_dollar_quoted(sql: str, i: int) -> int:
    """Index just past the ``$tag$ ... $tag$`` body opening at ``i``; ``i`` when the
    ``$`` opens none."""
    tag = _DOLLAR_TAG.match(sql, i)
    if tag is None:
        return i
    end = sql.find(tag.group(0), tag.end())
    if "?" in sql[tag.end() : end if end != -1 else len(sql)]:
        # The driver's own scanner does not know dollar quotes: it would bind it.
        raise ParameterError("a '?' inside a dollar-quoted body cannot be used with parameters")
    return len(sql) if end == -1 else end + len(tag.group(0))


def to_qmark(sql: str, params: Mapping[str, ParamValue]) -> tuple[str, list[str]]:
    """Rewrite ``:name`` placeholders into ``?`` and list the values in their order.

    ``::type`` casts, ``a[lo:hi]`` slices, strings (``'...'``, ``E'...'``), quoted
    identifiers, dollar-quoted bodies and comments are left as they are. A name used
    twice is bound twice. Values are converted to ``str``, as the Data API sends them
    (the warehouse casts them, as it casts a string literal). Unused names are
    ignored; a placeholder without a value raises :class:`ParameterError`.

    >>> to_qmark("SELECT a::int FROM t WHERE id > :last AND s = ':x' OR id = :last", {"last": 5})
    ("SELECT a::int FROM t WHERE id > ? AND s = ':x' OR id = ?", ['5', '5'])
    """
    out: list[str] = []
    args: list[str] = []
    i = pos = 0
    n = len(sql)
    while i < n:
        skipped = _skip_quoted(sql, i)
        if skipped != i:
            i = skipped
            continue
        ch = sql[i]
        if ch == "?":
            raise ParameterError("a bare '?' cannot be used in SQL with parameters")
        if ch != ":":
            i += 1
            continue
        if sql.startswith("::", i):
            i += 2
            continue
        name = _NAME.match(sql, i + 1)
        if name is None or (i > 0 and (_ident_char(sql[i - 1]) or sql[i - 1] == ":")):
            i += 1  # a lone colon or an array slice
            continue
        key = name.group(0)
        if key not in params:
            raise ParameterError(f"no value was supplied for the parameter :{key}")
        out.append(sql[pos:i])
        out.append("?")
        args.append(str(params[key]))
        i = pos = name.end()
    out.append(sql[pos:])
    return "".join(out), args


# --------------------------------------------------------------------------- pool


class _Pool:
    """Idle connections shared by threads; one connection serves one statement at a time."""

    def __init__(self, connect: Callable[[], Any], max_idle: int) -> None:
        self._connect = connect
        self._max_idle = max_idle
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False

    def acquire(self) -> Any:
        with self._lock:
            if self._closed:
                raise ExtractError("the direct source is closed")
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def release(self, connection: Any, reusable: bool) -> None:
        with self._lock:
            if reusable and not self._closed and len(self._idle) < self._max_idle:
                self._idle.append(connection)
                return
        _close_quietly(connection)

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for connection in idle:
            _close_quietly(connection)


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except (_DriverError, OSError) as err:
        _log.debug("closing a connection failed: %s", type(err).__name__)


def _rollback(connection: Any) -> bool:
    """Roll back; False when the connection is unusable."""
    try:
        connection.rollback()
    except (_DriverError, OSError):
        return False
    return True


# --------------------------------------------------------------------------- source


class DirectSource(Source):
    """A :class:`~dynamo.extract.Source` over a direct ``redshift_connector`` connection.

    Authentication: ``user`` + ``password``, or IAM (``iam=True`` with
    ``cluster_identifier``, ``db_user``, ``region``, ``profile``), as redshift_connector
    supports it. ``statement_timeout`` (seconds) is set on every connection; a statement
    that runs longer is cancelled by the warehouse and raises :class:`ExtractError`.

    Nothing waits forever: connecting (TCP, TLS, login) gives up after ``timeout``
    seconds without an answer; then each wait for the warehouse's answer gives up after
    ``statement_timeout + read_timeout`` (:attr:`answer_timeout`; no limit when either
    is None), both with an :class:`ExtractError` of one line saying what to check.

    :meth:`rows` holds the **whole result** in memory from the first ``next()`` (the
    driver buffers it; there is no cursor): bound the statement, as the sync's ranges
    are. A ``:name`` without a value is a :class:`ParameterError`; without parameters
    the SQL runs exactly as written. Setting ``cancel`` stops the reading at the next
    batch of ``fetch_size`` rows.

    Thread-safe: each statement borrows a connection from a small pool (at most
    ``max_idle`` kept open); :meth:`close` closes them. The password never appears in
    ``repr``, logs or error messages.

    Example (needs a warehouse)::

        with DirectSource(host="localhost", password="x", ssl=False) as source:
            list(source.rows("SELECT :n::int + 1", {"n": 41}))  # [(42,)]
    """

    def __init__(
        self,
        *,
        host: Optional[str] = None,
        port: int = Settings.redshift_port,
        database: str = Settings.database,
        user: Optional[str] = Settings.dbuser,
        password: Optional[str] = None,
        iam: bool = False,
        cluster_identifier: Optional[str] = None,
        db_user: Optional[str] = None,
        region: Optional[str] = None,
        profile: Optional[str] = None,
        ssl: bool = Settings.redshift_ssl,
        timeout: Optional[float] = None,
        statement_timeout: Optional[float] = Settings.statement_timeout,
        read_timeout: Optional[float] = None,
        fetch_size: int = 1000,
        max_idle: int = 8,
        connect_options: Optional[Mapping[str, Any]] = None,
    ) -> None:
        if not database:
            raise ValueError("database is required")
        if iam:
            if not (cluster_identifier or host):
                raise ValueError("iam=True needs cluster_identifier (or host)")
            if not (db_user or user):
                raise ValueError("iam=True needs db_user")
        elif not host:
            raise ValueError("host is required (or iam=True with cluster_identifier)")
        elif not user:
            raise ValueError("user is required")
        if fetch_size < 1:
            raise ValueError("fetch_size must be at least 1")
        for name, seconds in (
            ("timeout", timeout),
            ("statement_timeout", statement_timeout),
            ("read_timeout", read_timeout),
        ):
            if seconds is not None and not seconds > 0:
                raise ValueError(f"{name} must be positive (or None: no limit)")
        self.host = host
        self.port = port
        self.database = database
        self.user = user
        self.iam = iam
        self.cluster_identifier = cluster_identifier
        self.db_user = db_user
        self.region = region
        self.profile = profile
        self.statement_timeout = statement_timeout
        self.connect_timeout = timeout
        self.read_timeout = read_timeout
        self.fetch_size = fetch_size
        self.__password = password
        self.__options = {**self._driver_options(ssl, password), **(connect_options or {})}
        self._pool = _Pool(self._connect, max_idle)

    def _driver_options(self, ssl: bool, password: Optional[str]) -> dict[str, Any]:
        """``redshift_connector.connect``'s arguments, the password among them."""
        options: dict[str, Any] = {
            "database": self.database,
            "port": self.port,
            "ssl": ssl,
            # The driver prepares every distinct SQL text once per connection: bound that.
            "max_prepared_statements": 64,
        }
        if self.host:
            options["host"] = self.host
        if self.connect_timeout is not None:
            # The driver's ``timeout`` is its socket's: in force while connecting, and
            # replaced by answer_timeout once connected (see _connect).
            options["timeout"] = self.connect_timeout
        if not self.iam:
            return {**options, "user": self.user, "password": password}
        given = {
            "cluster_identifier": self.cluster_identifier,
            "region": self.region,
            "profile": self.profile,
            "user": self.user,
            "password": password,
        }
        db_user = self.db_user or self.user
        return {**options, "iam": True, "db_user": db_user, **{k: v for k, v in given.items() if v}}

    @classmethod
    def from_settings(cls, settings: Settings) -> DirectSource:
        """The source the sync's :class:`~dynamo.config.Settings` describe.

        The user is ``REDSHIFT_USER``, else ``DBUSER``. With ``REDSHIFT_IAM`` the
        driver asks for temporary credentials of ``DBUSER`` on ``CLUSTER`` in
        ``AWS_REGION``; without it those three are not used.

        >>> DirectSource.from_settings(Settings(redshift_host="localhost", redshift_password="x"))
        DirectSource(host='localhost', port=5439, database='dev', user='awsuser')
        """
        iam = settings.redshift_iam
        return cls(
            host=settings.redshift_host,
            port=settings.redshift_port,
            database=settings.database,
            user=settings.redshift_user or settings.dbuser,
            password=settings.redshift_password,
            iam=iam,
            cluster_identifier=settings.cluster if iam else None,
            db_user=settings.dbuser if iam else None,
            region=settings.aws_region if iam else None,
            ssl=settings.redshift_ssl,
            statement_timeout=settings.statement_timeout,
            timeout=settings.aws_connect_timeout,
            read_timeout=settings.aws_read_timeout,
        )

    @property
    def answer_timeout(self) -> Optional[float]:
        """Seconds a connected source waits for any answer: the warehouse cancels a
        statement after ``statement_timeout``, and has ``read_timeout`` more to say so."""
        if self.statement_timeout is None or self.read_timeout is None:
            return None
        return self.statement_timeout + self.read_timeout

    def __repr__(self) -> str:
        shown = [f"host={self.host!r}", f"port={self.port!r}", f"database={self.database!r}"]
        shown.append(f"user={self.user!r}")
        if self.iam:
            shown.append(f"iam=True, cluster_identifier={self.cluster_identifier!r}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- Source -----------------------------------------------------------------------

    def execute(self, sql: str) -> None:
        """Run one statement that returns no rows, in autocommit as the Data API does."""
        with self._connection(sql, commit=False) as connection:
            connection.autocommit = True
            try:
                with self._errors(sql):
                    connection.cursor().execute(sql)
            finally:
                connection.autocommit = False

    def _execute_script(self, sqls: list[str]) -> None:
        """One transaction on one connection, as ``BatchExecuteStatement`` runs them."""
        with self._connection(sqls[0]) as connection:
            cursor = connection.cursor()
            for statement in sqls:
                with self._errors(statement):
                    cursor.execute(statement)
            connection.commit()

    def close(self) -> None:
        """Close every pooled connection; later statements raise :class:`ExtractError`."""
        self._pool.close()

    # -- internals --------------------------------------------------------------------

    def _bind(self, sql: str, params: Mapping[str, ParamValue]) -> _Bound:
        # Without parameters the SQL runs exactly as written: no placeholder scan.
        return to_qmark(sql, params) if params else (sql, None)

    def _rows(self, sql: str, bound: _Bound, cancel: Optional[threading.Event]) -> Iterator[Row]:
        text, args = bound
        with self._connection(sql) as connection:
            cursor = connection.cursor()
            cursor.paramstyle = "qmark"
            _check_cancel(cancel, sql)
            with self._errors(sql):
                cursor.execute(text, args)
                batch = cursor.fetchmany(self.fetch_size) if cursor.description else ()
            while batch:
                yield from (tuple(row) for row in batch)
                _check_cancel(cancel, sql)
                with self._errors(sql):
                    batch = cursor.fetchmany(self.fetch_size)

    @contextmanager
    def _connection(self, sql: str, *, commit: bool = True) -> Iterator[Any]:
        """Borrow a connection for one statement: commit on success, else roll back.

        A generator closed early (``GeneratorExit``) rolls back (dropping the rows the
        driver buffered); the connection goes back to the pool when that works.
        """
        with self._errors(sql):
            connection = self._pool.acquire()
        reusable = False
        try:
            yield connection
            if commit:
                with self._errors(sql):
                    connection.commit()
            reusable = True
        finally:
            if not reusable:
                reusable = _rollback(connection)
            self._pool.release(connection, reusable)

    def _connect(self) -> Any:
        target = f"{self.host or self.cluster_identifier}:{self.port}/{self.database}"
        try:
            connection = redshift_connector.connect(**self.__options)
        except (_DriverError, OSError) as err:
            message = self._connect_failure(err)
            raise ExtractError(f"direct connection to {target} failed: {message}") from None
        try:
            connection.autocommit = False
            if self.statement_timeout is not None:
                milliseconds = max(1, round(self.statement_timeout * 1000))
                cursor = connection.cursor()
                cursor.execute(f"SET statement_timeout TO {milliseconds}")
                connection.commit()
        except (_DriverError, OSError) as err:
            _close_quietly(connection)
            message = self._connect_failure(err)
            raise ExtractError(f"direct connection to {target} failed: {message}") from None
        _set_socket_timeout(connection, self.answer_timeout)
        _log.debug("connected to %s", target)
        return connection

    def _connect_failure(self, err: BaseException) -> str:
        if _timed_out(err):
            return (
                f"no answer within {self.connect_timeout:g} s (AWS_CONNECT_TIMEOUT): check"
                " REDSHIFT_HOST and REDSHIFT_PORT, that the cluster is available and that its"
                " security group lets this machine in"
            )
        return self._scrub(_driver_message(err))

    @contextmanager
    def _errors(self, sql: str) -> Iterator[None]:
        """Turn driver errors into a one-line :class:`ExtractError`, password scrubbed."""
        try:
            yield
        except ExtractError:
            raise
        except (_DriverError, OSError) as err:
            if _timed_out(err):
                message = (
                    f"no answer from the warehouse within {self.answer_timeout:g} s"
                    " (STATEMENT_TIMEOUT + AWS_READ_TIMEOUT): check that the cluster is"
                    " available, then re-run"
                )
            else:
                message = self._scrub(_driver_message(err))
            # ``from None``: the driver's exception may carry connection details.
            raise ExtractError(
                f"direct statement FAILED: {message} [sql: {short_sql(sql)}]"
            ) from None

    def _scrub(self, text: str) -> str:
        # The driver masks the password itself; this is a second guard. A password of
        # a few characters would match ordinary words, so those are left to the driver.
        password = self.__password
        if password and len(password) >= _MIN_SCRUBBED:
            return text.replace(password, "***")
        return text


def _timed_out(err: BaseException) -> bool:
    """True for a socket timeout, raised as is or wrapped by the driver."""
    return any(isinstance(e, socket.timeout) for e in (err, *err.args))


def _set_socket_timeout(connection: Any, seconds: Optional[float]) -> None:
    # redshift_connector keeps its ``timeout`` on the socket for the connection's life,
    # which would cut any statement longer than the connect timeout; it has no public
    # setter, so the socket it reads through is set here.
    sock = getattr(connection, "_usock", None)
    if sock is not None:
        sock.settimeout(seconds)


def _check_cancel(cancel: Optional[threading.Event], sql: str) -> None:
    if cancel is not None and cancel.is_set():
        raise ExtractError(f"cancelled: the run is stopping [sql: {short_sql(sql)}]")


def _driver_message(err: BaseException) -> str:
    """``message (SQLSTATE code)`` from a driver error, on one line."""
    detail = err.args[0] if len(err.args) == 1 else None
    if isinstance(detail, dict):
        message = str(detail.get("M", detail))
        code = detail.get("C")
        text = f"{message} (SQLSTATE {code})" if code else message
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())

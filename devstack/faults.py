"""A fault-injecting HTTP proxy for AWS JSON protocols (DynamoDB, Redshift Data API).

:class:`FaultProxy` listens on 127.0.0.1 and sits between boto3 and one upstream
endpoint on the loopback interface (DynamoDB Local, the Data API emulator). It
forwards each request with its body and headers unchanged, except for a seeded
fraction of requests, which it answers with a fault instead::

    faults = Faults(throttle=0.3, partial_batch=0.3, drop=0.02, seed=1)
    with FaultProxy("http://127.0.0.1:8000", faults) as proxy:
        client = boto3.client("dynamodb", endpoint_url=proxy.url)
        client.batch_write_item(RequestItems=requests)  # may raise, may leave UnprocessedItems
    proxy.counts  # {"requests": 1, "forwarded": 0, "throttled": 1, "partial": 0, ...}

Faults, as botocore sees them:

- ``throttle``: HTTP 400 ``ProvisionedThroughputExceededException`` (DynamoDB), or
  ``ThrottlingException`` on other services;
- ``throttling``: HTTP 400 ``ThrottlingException``;
- ``server_error``: HTTP 500 ``InternalServerError`` (DynamoDB), or
  ``InternalServerException`` (Data API);
- ``drop``: the request is read, then the connection is closed without an answer;
- ``drop_after_forward``: the same, after the upstream has handled the request
  (the write happened, the client does not know);
- ``partial_batch``: ``BatchWriteItem`` forwards a random non-empty proper subset of
  each table's requests (tables with two or more) and answers the rest as
  ``UnprocessedItems``, merged with what the upstream left unprocessed.

Per-operation :class:`Rule` objects, keyed by ``X-Amz-Target``, come first: a
``DescribeStatement`` answer rewritten to FAILED, ABORTED or STARTED forever
(:meth:`Rule.statement_status`), a modeled error such as ``ValidationException``
(:meth:`Rule.error`), an expired paging token (:meth:`Rule.expired_token`).

Answers the proxy makes or alters carry a correct ``x-amz-crc32`` (DynamoDB's
checksum, which botocore verifies). Draws come from one ``random.Random(seed)``,
so a run's sequence of faults is reproducible (the order in which concurrent
requests arrive is not). Counters are updated under a lock.

Command line, for manual use::

    python -m devstack.faults --upstream http://127.0.0.1:8000 --throttle 0.3 \\
        --partial 0.3 --drop 0.02 --port 8001
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import ipaddress
import json
import logging
import random
import signal
import socket
import sys
import threading
import time
import uuid
import zlib
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Optional
from urllib.parse import urlsplit

__all__ = [
    "BATCH_WRITE_ITEM",
    "DESCRIBE_STATEMENT",
    "GET_STATEMENT_RESULT",
    "FaultKind",
    "FaultProxy",
    "Faults",
    "Injection",
    "Rule",
    "main",
]

_log = logging.getLogger(__name__)

#: What the proxy can do to one request.
FaultKind = Literal[
    "throttled",
    "throttling",
    "server_error",
    "dropped",
    "dropped_after_forward",
    "partial",
    "error",
    "status",
]
_KINDS: tuple[str, ...] = (
    "throttled",
    "throttling",
    "server_error",
    "dropped",
    "dropped_after_forward",
    "partial",
    "error",
    "status",
)
#: Faults counted only once the upstream has answered (they need its answer).
_APPLIED_LATER = frozenset({"partial", "status", "dropped_after_forward"})
#: Every key of :attr:`FaultProxy.counts`.
COUNT_KEYS: tuple[str, ...] = (
    "requests",
    "forwarded",
    *_KINDS,
    "held_back",
    "upstream_error",
    "connections",
)

DYNAMODB_PREFIX = "DynamoDB_20120810."
BATCH_WRITE_ITEM = "DynamoDB_20120810.BatchWriteItem"
DESCRIBE_STATEMENT = "RedshiftData.DescribeStatement"
GET_STATEMENT_RESULT = "RedshiftData.GetStatementResult"
_EXECUTES = ("RedshiftData.ExecuteStatement", "RedshiftData.BatchExecuteStatement")
#: Statement ids remembered for ``Rule.sql_contains`` (the oldest are forgotten).
_MAX_STATEMENTS = 100_000

_STATUSES = frozenset({"SUBMITTED", "PICKED", "STARTED", "FINISHED", "FAILED", "ABORTED"})
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "expect",
    }
)
#: DynamoDB accepts at most 16 MB per request; nothing bigger is read.
_MAX_BODY = 16 * 1024 * 1024
_DYNAMODB_TYPE = "com.amazonaws.dynamodb.v20120810#"
_MESSAGES = {
    "ProvisionedThroughputExceededException": (
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API."
    ),
    "ThrottlingException": "Rate of requests exceeds the allowed throughput.",
    "InternalServerError": "Internal server error",
    "InternalServerException": "Internal server error",
}


# --------------------------------------------------------------------------- configuration


def _check_rate(name: str, value: float) -> None:
    if isinstance(value, bool) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a fraction between 0 and 1, not {value!r}")


@dataclass(frozen=True)
class Faults:
    """Fractions of requests to answer with each fault instead of forwarding them.

    Each request draws once: the fractions are exclusive and add up to at most 1.
    ``partial_batch`` applies to ``BatchWriteItem`` only (other requests drawn for
    it are forwarded). ``targets`` limits these faults to some ``X-Amz-Target``
    values; empty means every request.
    """

    throttle: float = 0.0
    throttling: float = 0.0
    server_error: float = 0.0
    drop: float = 0.0
    drop_after_forward: float = 0.0
    partial_batch: float = 0.0
    seed: int = 0
    targets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        rates = self.rates()
        for name, value in rates:
            _check_rate(name, value)
        if sum(value for _, value in rates) > 1.0 + 1e-9:
            raise ValueError("the fractions of Faults add up to more than 1")

    def rates(self) -> tuple[tuple[FaultKind, float], ...]:
        """``(kind, fraction)`` in the order a draw is matched against them."""
        return (
            ("throttled", self.throttle),
            ("throttling", self.throttling),
            ("server_error", self.server_error),
            ("dropped", self.drop),
            ("dropped_after_forward", self.drop_after_forward),
            ("partial", self.partial_batch),
        )


@dataclass(frozen=True)
class Rule:
    """A fault for one operation: ``target`` is its ``X-Amz-Target``, or a prefix of it
    ending with ``*`` (``"RedshiftData.GetStatementResult*"`` matches V2 too; ``"*"``
    matches every request).

    Rules are tried in order before :class:`Faults`; the first that applies wins.
    ``skip`` matching requests go through first, then it fires on a ``rate``
    fraction of them, at most ``limit`` times (None: no limit). ``when_present``
    is a top-level member the request must carry to match (``"NextToken"``).
    ``sql_contains`` limits a Data API rule to statements whose SQL contains that
    text (their ``ExecuteStatement`` went through this proxy).
    ``fault="error"`` answers ``code`` with ``http_status`` and ``message``;
    ``fault="status"`` forwards the request and rewrites the answer's ``Status``
    to ``status`` (with ``message`` as its ``Error`` for FAILED and ABORTED).
    Other faults are those of :class:`Faults`.
    """

    target: str
    fault: FaultKind
    rate: float = 1.0
    limit: Optional[int] = None
    when_present: Optional[str] = None
    skip: int = 0
    sql_contains: Optional[str] = None
    code: str = ""
    message: str = ""
    http_status: int = 400
    status: str = ""

    def __post_init__(self) -> None:
        if self.fault not in _KINDS:
            raise ValueError(f"unknown fault {self.fault!r}; valid faults: {', '.join(_KINDS)}")
        if not self.target:
            raise ValueError("a rule needs a target (an X-Amz-Target value, or '*')")
        _check_rate("rate", self.rate)
        if self.limit is not None and self.limit < 0:
            raise ValueError("limit must be None or at least 0")
        if self.skip < 0:
            raise ValueError("skip must be at least 0")
        if self.fault == "error" and not self.code:
            raise ValueError("an error rule needs a code, such as 'ValidationException'")
        if self.fault == "error" and not 400 <= self.http_status <= 599:
            raise ValueError("http_status of an error rule must be 4xx or 5xx")
        if self.fault == "status" and self.status not in _STATUSES:
            raise ValueError(f"status must be one of {', '.join(sorted(_STATUSES))}")

    def matches(self, target: str) -> bool:
        """Whether this rule is about requests with ``X-Amz-Target: target``."""
        if self.target.endswith("*"):
            return target.startswith(self.target[:-1])
        return target == self.target

    @classmethod
    def error(
        cls,
        target: str,
        code: str,
        message: str,
        *,
        http_status: int = 400,
        when_present: Optional[str] = None,
        rate: float = 1.0,
        limit: Optional[int] = None,
        skip: int = 0,
        sql_contains: Optional[str] = None,
    ) -> Rule:
        """Answer ``target`` with the modeled error ``code`` instead of forwarding it."""
        return cls(
            target,
            "error",
            rate=rate,
            limit=limit,
            when_present=when_present,
            skip=skip,
            sql_contains=sql_contains,
            code=code,
            message=message,
            http_status=http_status,
        )

    @classmethod
    def statement_status(
        cls,
        status: str,
        error: str = "",
        *,
        rate: float = 1.0,
        limit: Optional[int] = None,
        skip: int = 0,
        sql_contains: Optional[str] = None,
    ) -> Rule:
        """Rewrite ``DescribeStatement`` answers: FAILED or ABORTED (with ``error``),
        or STARTED (with no limit: a statement that never finishes)."""
        if not error and status in ("FAILED", "ABORTED"):
            error = f"ERROR: injected: the statement was {status.lower()}"
        return cls(
            DESCRIBE_STATEMENT,
            "status",
            rate=rate,
            limit=limit,
            skip=skip,
            sql_contains=sql_contains,
            status=status,
            message=error,
        )

    @classmethod
    def expired_token(
        cls,
        *,
        rate: float = 1.0,
        limit: Optional[int] = None,
        skip: int = 0,
        sql_contains: Optional[str] = None,
    ) -> Rule:
        """``GetStatementResult`` (or ``GetStatementResultV2``) with a ``NextToken``
        answers ``ValidationException``."""
        return cls.error(
            GET_STATEMENT_RESULT + "*",
            "ValidationException",
            "The NextToken has expired or is invalid.",
            when_present="NextToken",
            rate=rate,
            limit=limit,
            skip=skip,
            sql_contains=sql_contains,
        )


@dataclass(frozen=True)
class Injection:
    """One fault the proxy injected; ``statement_id`` is the request's (or answer's) ``Id``."""

    fault: str
    target: str
    statement_id: Optional[str] = None
    detail: str = ""
    at: float = field(default_factory=time.monotonic)


# --------------------------------------------------------------------------- plumbing


@dataclass
class _Plan:
    fault: Optional[FaultKind] = None
    rule: Optional[Rule] = None
    rule_index: int = -1
    body: Optional[bytes] = None
    held: Optional[dict[str, list[Any]]] = None
    target: str = ""
    statement_id: Optional[str] = None
    sql: Optional[str] = None


@dataclass
class _Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class _UpstreamError(Exception):
    pass


def _is_loopback(host: Optional[str]) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _json_object(raw: bytes) -> Optional[dict[str, Any]]:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _crc32(body: bytes) -> str:
    return str(zlib.crc32(body) & 0xFFFFFFFF)


def _is_dynamodb(target: str) -> bool:
    return target.startswith(DYNAMODB_PREFIX)


def _error_answer(target: str, code: str, message: str, status: int) -> _Answer:
    """An error answer shaped as the service shapes it, so botocore parses ``code``."""
    if _is_dynamodb(target):
        kind = (
            "com.amazon.coral.availability#ThrottlingException"
            if code == "ThrottlingException"
            else _DYNAMODB_TYPE + code
        )
        body = _dump({"__type": kind, "message": message})
        headers = [
            ("Content-Type", "application/x-amz-json-1.0"),
            ("x-amz-crc32", _crc32(body)),
        ]
    else:
        body = _dump({"__type": code, "message": message, "Message": message})
        headers = [("Content-Type", "application/x-amz-json-1.1")]
    headers.append(("x-amzn-RequestId", str(uuid.uuid4())))
    reason = "Bad Request" if status < 500 else "Internal Server Error"
    return _Answer(status, reason, headers, body)


def _generic_error(target: str, fault: str) -> _Answer:
    dynamodb = _is_dynamodb(target)
    if fault == "throttled":
        code = "ProvisionedThroughputExceededException" if dynamodb else "ThrottlingException"
        return _error_answer(target, code, _MESSAGES[code], 400)
    if fault == "throttling":
        return _error_answer(target, "ThrottlingException", _MESSAGES["ThrottlingException"], 400)
    code = "InternalServerError" if dynamodb else "InternalServerException"
    return _error_answer(target, code, _MESSAGES[code], 500)


def _decoded_body(answer: _Answer) -> Optional[bytes]:
    """The answer's body without content coding (gzip), or None if it cannot be read."""
    encoding = next((v for k, v in answer.headers if k.lower() == "content-encoding"), "")
    if encoding.lower() in ("", "identity"):
        return answer.body
    if encoding.lower() == "gzip":
        try:
            return gzip.decompress(answer.body)
        except OSError:
            return None
    return None


def _with_body(answer: _Answer, body: bytes, target: str) -> _Answer:
    """``answer`` with a new (plain JSON) body and a checksum that matches it."""
    headers = [
        (k, v) for k, v in answer.headers if k.lower() not in ("x-amz-crc32", "content-encoding")
    ]
    if _is_dynamodb(target):
        headers.append(("x-amz-crc32", _crc32(body)))
    return _Answer(answer.status, answer.reason, headers, body)


# --------------------------------------------------------------------------- the server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "contabyx-faults"
    sys_version = ""
    disable_nagle_algorithm = True
    #: An idle keep-alive connection is closed after this many seconds.
    timeout = 120

    _upstream: Optional[http.client.HTTPConnection] = None

    def setup(self) -> None:
        super().setup()
        self.server.proxy._opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            if self._upstream is not None:
                self._upstream.close()
                self._upstream = None
            self.server.proxy._closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s " + format, self.address_string(), *args)

    # -- HTTP -----------------------------------------------------------------

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        proxy = self.server.proxy
        target = self.headers.get("X-Amz-Target") or ""
        plan = proxy._plan(target, body)
        fault = plan.fault
        try:
            if fault is None:
                answer = self._forward(body)
                proxy._remember(plan, answer)
                proxy._count("forwarded")
                self._reply(answer)
            elif fault in ("throttled", "throttling", "server_error"):
                self._reply(_generic_error(target, fault))
            elif fault == "error":
                assert plan.rule is not None
                rule = plan.rule
                self._reply(_error_answer(target, rule.code, rule.message, rule.http_status))
            elif fault == "dropped":
                self.close_connection = True
            elif fault == "dropped_after_forward":
                proxy._remember(plan, self._forward(body))
                self.close_connection = True
                proxy._record(plan)
            elif fault == "partial":
                self._partial(target, body, plan)
            else:
                self._rewrite_status(target, body, plan)
        except _UpstreamError as exc:
            proxy._undo(plan)
            proxy._count("upstream_error")
            _log.warning("upstream failed for %s: %s", target, exc)
            self.close_connection = True

    def do_GET(self) -> None:
        self._reply(_error_answer("", "UnknownOperationException", "Use POST /.", 404))

    def _read_body(self) -> Optional[bytes]:
        if not self.path.startswith("/"):
            # Absolute-form targets would make this an open proxy: refused.
            self.close_connection = True
            self._reply(_error_answer("", "SerializationException", "Use origin-form paths.", 400))
            return None
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._reply(_error_answer("", "SerializationException", "Content-Length needed.", 411))
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.close_connection = True
            self._reply(_error_answer("", "SerializationException", "Invalid Content-Length.", 400))
            return None
        return self.rfile.read(length)

    def _reply(self, answer: _Answer) -> None:
        self.send_response_only(answer.status, answer.reason)
        for key, value in answer.headers:
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.body)

    # -- upstream -------------------------------------------------------------

    def _forward(self, body: bytes) -> _Answer:
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        has_host = any(k.lower() == "host" for k, _ in headers)
        proxy = self.server.proxy
        for attempt in range(2):
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=proxy.upstream_timeout
                )
            connection = self._upstream
            reused = connection.sock is not None
            try:
                connection.putrequest(
                    "POST", self.path, skip_host=has_host, skip_accept_encoding=True
                )
                for key, value in headers:
                    connection.putheader(key, value)
                connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
                response = connection.getresponse()
                data = response.read()
                answer = _Answer(response.status, response.reason, response.getheaders(), data)
                if response.will_close:
                    connection.close()
                    self._upstream = None
                return answer
            except (http.client.HTTPException, OSError) as exc:
                connection.close()
                self._upstream = None
                # A kept-alive connection the upstream had closed: try once on a new one.
                if not reused or attempt:
                    raise _UpstreamError(f"{type(exc).__name__}: {exc}") from exc
        raise _UpstreamError("unreachable")  # pragma: no cover

    def _partial(self, target: str, body: bytes, plan: _Plan) -> None:
        proxy = self.server.proxy
        assert plan.body is not None and plan.held is not None
        answer = self._forward(plan.body)
        decoded = _decoded_body(answer)
        result = _json_object(decoded) if answer.status == 200 and decoded is not None else None
        if result is None:
            # The upstream refused the smaller batch: its answer covers the whole batch.
            proxy._undo(plan)
            proxy._count("forwarded")
            self._reply(answer)
            return
        unprocessed = result.get("UnprocessedItems")
        merged: dict[str, list[Any]] = dict(unprocessed) if isinstance(unprocessed, dict) else {}
        for table, requests in plan.held.items():
            merged[table] = [*(merged.get(table) or []), *requests]
        result["UnprocessedItems"] = merged
        proxy._record(plan)
        proxy._count("held_back", sum(len(r) for r in plan.held.values()))
        self._reply(_with_body(answer, _dump(result), target))

    def _rewrite_status(self, target: str, body: bytes, plan: _Plan) -> None:
        proxy = self.server.proxy
        rule = plan.rule
        assert rule is not None
        answer = self._forward(body)
        decoded = _decoded_body(answer)
        result = _json_object(decoded) if answer.status == 200 and decoded is not None else None
        if result is None or "Status" not in result:
            proxy._undo(plan)
            proxy._count("forwarded")
            self._reply(answer)
            return
        result["Status"] = rule.status
        if rule.status in ("FAILED", "ABORTED"):
            result["Error"] = rule.message
        else:
            result.pop("Error", None)
        proxy._record(plan)
        self._reply(_with_body(answer, _dump(result), target))


# --------------------------------------------------------------------------- the proxy


class FaultProxy:
    """The fault-injecting proxy: a context manager that serves on 127.0.0.1.

    ``upstream`` is an ``http://`` URL on the loopback interface; the proxy never
    connects anywhere else. ``port=0`` picks a free port. ``rules`` come before
    ``faults``; :meth:`add_rule` adds more while it runs.

    >>> with FaultProxy("http://127.0.0.1:8000", Faults(drop=0.5, seed=3)) as proxy:
    ...     client = boto3.client("dynamodb", endpoint_url=proxy.url)
    """

    def __init__(
        self,
        upstream: str,
        faults: Optional[Faults] = None,
        rules: Sequence[Rule] = (),
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        upstream_timeout: float = 60.0,
        keep_injections: int = 10_000,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not _is_loopback(parts.hostname):
            raise ValueError(
                f"upstream must be an http:// URL on the loopback interface, not {upstream!r}"
            )
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"upstream must be a bare endpoint URL, not {upstream!r}")
        if not _is_loopback(host):
            raise ValueError(f"the proxy listens on the loopback interface only, not {host!r}")
        assert parts.hostname is not None
        self.upstream = upstream
        self.upstream_host: str = parts.hostname
        self.upstream_port: int = parts.port or 80
        self.upstream_timeout = upstream_timeout
        self.faults = faults if faults is not None else Faults()
        self._rules: list[Rule] = list(rules)
        self._fired: list[int] = [0] * len(self._rules)
        self._seen: list[int] = [0] * len(self._rules)
        self._statements: dict[str, str] = {}
        self._rng = random.Random(self.faults.seed)
        self._lock = threading.Lock()
        self._counts: dict[str, int] = dict.fromkeys(COUNT_KEYS, 0)
        self._by_target: Counter[str] = Counter()
        self._injections: deque[Injection] = deque(maxlen=keep_injections)
        self._connections: set[socket.socket] = set()
        self._server = _Server((host, port), self)
        self._thread: Optional[threading.Thread] = None

    # -- public ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the endpoint URL to give boto3."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return int(self._server.server_address[1])

    @property
    def counts(self) -> dict[str, int]:
        """A snapshot of what the proxy did, by kind (every key of ``COUNT_KEYS``).

        ``requests`` counts every request; each one is either ``forwarded``
        unchanged or counted once under its fault (``throttled``, ``partial``,
        ``dropped``...) or ``upstream_error``. ``held_back`` counts the write
        requests that partial batches answered as unprocessed, ``connections``
        the client connections accepted (keep-alive makes it small).
        """
        with self._lock:
            return dict(self._counts)

    @property
    def by_target(self) -> dict[str, int]:
        """Requests received, by ``X-Amz-Target``."""
        with self._lock:
            return dict(self._by_target)

    @property
    def injections(self) -> list[Injection]:
        """The faults injected, oldest first (the last ``keep_injections`` of them)."""
        with self._lock:
            return list(self._injections)

    def add_rule(self, rule: Rule) -> None:
        """Append ``rule``: it is tried after the rules already there."""
        with self._lock:
            self._rules.append(rule)
            self._fired.append(0)
            self._seen.append(0)

    def clear_rules(self) -> None:
        """Remove every rule (the :class:`Faults` stay)."""
        with self._lock:
            self._rules.clear()
            self._fired.clear()
            self._seen.clear()

    def start(self) -> FaultProxy:
        """Serve in a background thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name=f"fault-proxy-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"FaultProxy(url={self.url!r}, upstream={self.upstream!r}, faults={self.faults!r})"

    # -- used by the handlers -------------------------------------------------

    def _opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.add(connection)
            self._counts["connections"] += 1

    def _closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.discard(connection)

    def _count(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def _plan(self, target: str, body: bytes) -> _Plan:
        """Decide, under the lock, what to do with one request."""
        request: Optional[dict[str, Any]] = None
        if target in (BATCH_WRITE_ITEM, *_EXECUTES) or any(
            r.matches(target) for r in list(self._rules)
        ):
            request = _json_object(body)
        with self._lock:
            self._counts["requests"] += 1
            self._by_target[target] += 1
            plan = self._choose(target, request)
            statement_id = request.get("Id") if request is not None else None
            plan.target = target
            plan.statement_id = statement_id if isinstance(statement_id, str) else None
            if plan.fault is not None and plan.fault not in _APPLIED_LATER:
                self._record_locked(plan)
            if target in _EXECUTES and request is not None:
                sqls = request.get("Sqls") if "Sqls" in request else [request.get("Sql")]
                plan.sql = "; ".join(str(sql) for sql in sqls or ())
            return plan

    def _record(self, plan: _Plan) -> None:
        """Count a fault that needed the upstream, once it has been applied."""
        with self._lock:
            self._record_locked(plan)

    def _record_locked(self, plan: _Plan) -> None:
        assert plan.fault is not None
        self._counts[plan.fault] += 1
        detail = ""
        if plan.rule is not None:
            detail = plan.rule.status or plan.rule.code
        elif plan.held is not None:
            detail = f"{sum(len(r) for r in plan.held.values())} held back"
        self._injections.append(Injection(plan.fault, plan.target, plan.statement_id, detail))

    def _undo(self, plan: _Plan) -> None:
        """A fault that needed the upstream could not be applied: the rule gets its turn back."""
        with self._lock:
            if plan.rule is not None and 0 <= plan.rule_index < len(self._fired):
                self._fired[plan.rule_index] -= 1

    def _sql(self, request: Optional[dict[str, Any]]) -> str:
        """The SQL a Data API request is about: its own, or its statement's (by ``Id``)."""
        if request is None:
            return ""
        sql = request.get("Sql")
        if isinstance(sql, str):
            return sql
        sqls = request.get("Sqls")
        if isinstance(sqls, list):
            return "; ".join(str(s) for s in sqls)
        statement_id = request.get("Id")
        if isinstance(statement_id, str):
            # Sub-statement ids are the statement's id with a ":n" suffix.
            return self._statements.get(statement_id.split(":", 1)[0], "")
        return ""

    def _remember(self, plan: _Plan, answer: _Answer) -> None:
        """Note the id an ``ExecuteStatement`` answer gives to its SQL."""
        if plan.sql is None or answer.status != 200:
            return
        result = _json_object(_decoded_body(answer) or b"")
        statement_id = result.get("Id") if result is not None else None
        if not isinstance(statement_id, str):
            return
        with self._lock:
            if len(self._statements) >= _MAX_STATEMENTS:
                self._statements.pop(next(iter(self._statements)))
            self._statements[statement_id] = plan.sql

    def _choose(self, target: str, request: Optional[dict[str, Any]]) -> _Plan:
        for index, rule in enumerate(self._rules):
            if not rule.matches(target):
                continue
            if rule.limit is not None and self._fired[index] >= rule.limit:
                continue
            if rule.when_present is not None and not (
                request is not None and request.get(rule.when_present)
            ):
                continue
            if rule.sql_contains is not None and rule.sql_contains not in self._sql(request):
                continue
            self._seen[index] += 1
            if self._seen[index] <= rule.skip:
                continue
            if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                continue
            if rule.fault == "partial":
                held = self._split(request)
                if held is None:
                    continue
                self._fired[index] += 1
                return _Plan("partial", rule, index, held[0], held[1])
            self._fired[index] += 1
            return _Plan(rule.fault, rule, index)
        faults = self.faults
        if faults.targets and target not in faults.targets:
            return _Plan()
        draw = self._rng.random()
        for kind, rate in faults.rates():
            if draw < rate:
                if kind == "partial":
                    held = self._split(request) if target == BATCH_WRITE_ITEM else None
                    return _Plan() if held is None else _Plan("partial", None, -1, *held)
                return _Plan(kind)
            draw -= rate
        return _Plan()

    def _split(
        self, request: Optional[dict[str, Any]]
    ) -> Optional[tuple[bytes, dict[str, list[Any]]]]:
        """A smaller ``BatchWriteItem`` body and the requests held back, by table."""
        items = request.get("RequestItems") if request is not None else None
        if not isinstance(items, dict):
            return None
        kept: dict[str, Any] = {}
        held: dict[str, list[Any]] = {}
        for table, requests in items.items():
            if not isinstance(requests, list) or len(requests) < 2:
                kept[table] = requests
                continue
            count = len(requests)
            out = set(self._rng.sample(range(count), self._rng.randint(1, count - 1)))
            held[table] = [r for i, r in enumerate(requests) if i in out]
            kept[table] = [r for i, r in enumerate(requests) if i not in out]
        if not held or request is None:
            return None
        return _dump({**request, "RequestItems": kept}), held


# --------------------------------------------------------------------------- command line


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m devstack.faults``: run a proxy until interrupted; print the counts."""
    parser = argparse.ArgumentParser(
        prog="python -m devstack.faults",
        description="Fault-injecting proxy for AWS JSON protocols, on 127.0.0.1.",
    )
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT to forward to")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--throttle", type=float, default=0.0, help="throughput exceeded")
    parser.add_argument("--throttling", type=float, default=0.0, help="ThrottlingException")
    parser.add_argument("--server-error", type=float, default=0.0, help="HTTP 500")
    parser.add_argument("--drop", type=float, default=0.0, help="close without answering")
    parser.add_argument("--drop-after-forward", type=float, default=0.0, help="forward, then close")
    parser.add_argument("--partial", type=float, default=0.0, help="partial BatchWriteItem")
    parser.add_argument(
        "--statement-status",
        choices=("FAILED", "ABORTED", "STARTED"),
        help="rewrite every DescribeStatement answer to this status",
    )
    parser.add_argument(
        "--expired-token", action="store_true", help="refuse every GetStatementResult NextToken"
    )
    args = parser.parse_args(argv)
    try:
        faults = Faults(
            throttle=args.throttle,
            throttling=args.throttling,
            server_error=args.server_error,
            drop=args.drop,
            drop_after_forward=args.drop_after_forward,
            partial_batch=args.partial,
            seed=args.seed,
        )
        rules = []
        if args.statement_status:
            rules.append(Rule.statement_status(args.statement_status))
        if args.expired_token:
            rules.append(Rule.expired_token())
        proxy = FaultProxy(args.upstream, faults, rules, port=args.port)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with proxy:
        print(f"fault proxy on {proxy.url} -> {proxy.upstream} (Ctrl-C stops)", flush=True)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
    print(json.dumps(proxy.counts), file=sys.stdout, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

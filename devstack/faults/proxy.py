"""The fault proxy's HTTP side: a threaded server on 127.0.0.1 that forwards to one
loopback upstream, or answers with the fault its :class:`~.rules.Planner` chose.

Each client connection keeps its own keep-alive connection to the upstream
(retried once if the upstream had closed it). Counters, rules and the seeded
draws are shared by every connection, under one lock::

    with FaultProxy("http://127.0.0.1:8000", Faults(drop=0.5, seed=3)) as proxy:
        client = boto3.client("dynamodb", endpoint_url=proxy.url)
        ...
    proxy.counts["dropped"], proxy.injections[-1].target
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
from collections import Counter, deque
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Optional
from urllib.parse import urlsplit

from ..httpd import LoopbackHTTPServer, QuietHandler, content_length, is_loopback
from .rules import (
    KINDS,
    Answer,
    Faults,
    Injection,
    Plan,
    Planner,
    Rule,
    decoded_body,
    dump,
    error_answer,
    generic_error,
    json_object,
    with_body,
)

__all__ = ["COUNT_KEYS", "FaultProxy"]

# The name the proxy logged under when it was one module.
_log = logging.getLogger("devstack.faults")

#: Every key of :attr:`FaultProxy.counts`.
COUNT_KEYS: tuple[str, ...] = (
    "requests",
    "forwarded",
    *KINDS,
    "held_back",
    "upstream_error",
    "connections",
)

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


class _UpstreamError(Exception):
    pass


# --------------------------------------------------------------------------- the server


class _Server(LoopbackHTTPServer):
    def __init__(self, address: tuple[str, int], proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, _Handler)


class _Handler(QuietHandler):
    server: _Server
    server_version = "contabyx-faults"
    log = _log
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
                self._reply(generic_error(target, fault))
            elif fault == "error":
                assert plan.rule is not None
                rule = plan.rule
                self._reply(error_answer(target, rule.code, rule.message, rule.http_status))
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
        self._reply(error_answer("", "UnknownOperationException", "Use POST /.", 404))

    def _read_body(self) -> Optional[bytes]:
        if not self.path.startswith("/"):
            # Absolute-form targets would make this an open proxy: refused.
            self.close_connection = True
            self._reply(error_answer("", "SerializationException", "Use origin-form paths.", 400))
            return None
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            self._reply(error_answer("", "SerializationException", "Content-Length needed.", 411))
            return None
        length = content_length(self.headers.get("Content-Length"))
        if length is None:
            self.close_connection = True
            self._reply(error_answer("", "SerializationException", "Invalid Content-Length.", 400))
            return None
        return self.rfile.read(length)

    def _reply(self, answer: Answer) -> None:
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

    def _forward(self, body: bytes) -> Answer:
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
                answer = Answer(response.status, response.reason, response.getheaders(), data)
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

    def _partial(self, target: str, body: bytes, plan: Plan) -> None:
        proxy = self.server.proxy
        assert plan.body is not None and plan.held is not None
        answer = self._forward(plan.body)
        decoded = decoded_body(answer)
        result = json_object(decoded) if answer.status == 200 and decoded is not None else None
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
        self._reply(with_body(answer, dump(result), target))

    def _rewrite_status(self, target: str, body: bytes, plan: Plan) -> None:
        proxy = self.server.proxy
        rule = plan.rule
        assert rule is not None
        answer = self._forward(body)
        decoded = decoded_body(answer)
        result = json_object(decoded) if answer.status == 200 and decoded is not None else None
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
        self._reply(with_body(answer, dump(result), target))


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
        if parts.scheme != "http" or not is_loopback(parts.hostname):
            raise ValueError(
                f"upstream must be an http:// URL on the loopback interface, not {upstream!r}"
            )
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"upstream must be a bare endpoint URL, not {upstream!r}")
        if not is_loopback(host):
            raise ValueError(f"the proxy listens on the loopback interface only, not {host!r}")
        assert parts.hostname is not None
        self.upstream = upstream
        self.upstream_host: str = parts.hostname
        self.upstream_port: int = parts.port or 80
        self.upstream_timeout = upstream_timeout
        self.faults = faults if faults is not None else Faults()
        self._planner = Planner(self.faults, rules)
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
            self._planner.add(rule)

    def clear_rules(self) -> None:
        """Remove every rule (the :class:`Faults` stay)."""
        with self._lock:
            self._planner.clear()

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

    def _plan(self, target: str, body: bytes) -> Plan:
        """Decide, under the lock, what to do with one request."""
        request = json_object(body) if self._planner.reads(target) else None
        with self._lock:
            self._counts["requests"] += 1
            self._by_target[target] += 1
            plan = self._planner.plan(target, request)
            if plan.counted_at_once:
                self._record_locked(plan)
            return plan

    def _record(self, plan: Plan) -> None:
        """Count a fault that needed the upstream, once it has been applied."""
        with self._lock:
            self._record_locked(plan)

    def _record_locked(self, plan: Plan) -> None:
        assert plan.fault is not None
        self._counts[plan.fault] += 1
        self._injections.append(plan.injection())

    def _undo(self, plan: Plan) -> None:
        """A fault that needed the upstream could not be applied: the rule gets its turn back."""
        with self._lock:
            self._planner.undo(plan)

    def _remember(self, plan: Plan, answer: Answer) -> None:
        """Note the id an ``ExecuteStatement`` answer gives to its SQL."""
        if plan.sql is None or answer.status != 200:
            return
        result = json_object(decoded_body(answer) or b"")
        statement_id = result.get("Id") if result is not None else None
        if not isinstance(statement_id, str):
            return
        with self._lock:
            self._planner.remember(statement_id, plan.sql)

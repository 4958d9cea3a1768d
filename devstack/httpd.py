"""What the local stack's small HTTP servers share: loopback checks, body limits, a base.

The Data API emulator (:mod:`devstack.dataapi.server`) and the fault proxy
(:mod:`devstack.faults.proxy`) are threaded HTTP/1.1 servers on the loopback
interface. They refuse to bind elsewhere, read at most :data:`MAX_BODY` bytes per
request and log request lines at DEBUG only (headers carry credentials)::

    class _Handler(QuietHandler):
        log = logging.getLogger("devstack.example")

        def do_POST(self) -> None:
            length = content_length(self.headers.get("Content-Length"))
            ...

    if not is_loopback(host):
        raise ValueError(f"loopback only, not {host!r}")
    server = LoopbackHTTPServer((host, 0), _Handler)

(The module is not named ``http``: that would shadow the standard library's
package for anything run from this directory.)
"""

from __future__ import annotations

import ipaddress
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Optional

__all__ = ["MAX_BODY", "LoopbackHTTPServer", "QuietHandler", "content_length", "is_loopback"]

#: DynamoDB accepts at most 16 MB per request; nothing bigger is read.
MAX_BODY = 16 * 1024 * 1024


def is_loopback(host: Optional[str], *, ipv4_only: bool = False) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (IPv4 only if asked).

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("::1", ipv4_only=True)
    (True, True, False)
    """
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback and (address.version == 4 or not ipv4_only)


def content_length(value: Optional[str], limit: int = MAX_BODY) -> Optional[int]:
    """The body length a ``Content-Length`` header announces (0 when it is absent), or
    None when it is not a whole number between 0 and ``limit``.

    >>> content_length("12"), content_length(None), content_length("-1"), content_length("x")
    (12, 0, None, None)
    """
    try:
        length = int(value or 0)
    except ValueError:
        return None
    return length if 0 <= length <= limit else None


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server whose request threads never keep the process alive.

    It does not check its address: callers refuse non-loopback hosts first
    (:func:`is_loopback`), each with its own message.
    """

    daemon_threads = True
    # The sync keeps many requests in flight; a deep backlog avoids refused connections.
    request_queue_size = 128


class QuietHandler(BaseHTTPRequestHandler):
    """An HTTP/1.1 (keep-alive) handler that logs request lines to :attr:`log` at DEBUG.

    Only the request line reaches :meth:`log_message`; headers (``Authorization``)
    never do. Subclasses set ``server_version`` and their own ``log``.
    """

    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, delayed ACKs cost 40 ms each.
    disable_nagle_algorithm = True
    sys_version = ""
    log: ClassVar[logging.Logger] = logging.getLogger(__name__)

    def log_message(self, format: str, *args: Any) -> None:
        self.log.debug("%s " + format, self.address_string(), *args)

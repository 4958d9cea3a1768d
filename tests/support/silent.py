"""Silent endpoints: hosts that accept connections and never answer.

:class:`SilentServer` accepts each connection and holds it (counting them), for
HTTP clients; :func:`silent_endpoint` leaves them in the listen backlog, for the
warehouse's wire protocol.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class SilentServer:
    """Accepts TCP connections on 127.0.0.1, reads nothing, answers nothing.

    >>> with SilentServer() as server:
    ...     server.url.startswith("http://127.0.0.1:"), server.accepted
    (True, 0)
    """

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._held: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> int:
        """How many connections were made to it so far."""
        with self._lock:
            return len(self._held)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # the accept timeout: look at the stop flag again
                continue
            with self._lock:
                self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        with self._lock:
            for conn in self._held:
                conn.close()
        self._sock.close()

    def __enter__(self) -> SilentServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def silent_endpoint(patience: float = 20.0) -> Iterator[int]:
    """A local port whose connections the kernel accepts (the listen backlog) and
    nobody answers. After ``patience`` seconds it hangs up on them, so that a client
    without a timeout fails (differently) instead of hanging the test run."""
    server = socket.create_server(("127.0.0.1", 0), backlog=16)
    hang_up = threading.Timer(patience, server.close)
    hang_up.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        hang_up.cancel()
        server.close()

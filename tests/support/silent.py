"""A silent endpoint: a host that accepts connections and never answers."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


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

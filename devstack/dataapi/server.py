"""HTTP side of the emulator: the AWS JSON 1.1 protocol on ``POST /``.

Requests carry ``X-Amz-Target: RedshiftData.<Operation>`` and a JSON body; answers
are JSON with content type ``application/x-amz-json-1.1``; errors are HTTP 4xx/5xx
with ``{"__type": ..., "message": ...}`` so botocore raises the modeled exception.
SigV4 signatures are accepted unverified, and request headers are never logged.

Example::

    server = make_http_server(DataApi(store), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
"""

from __future__ import annotations

import ipaddress
import json
import logging
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .api import DataApi
from .errors import ApiError

__all__ = ["DataApiHTTPServer", "make_http_server"]

_log = logging.getLogger(__name__)

_CONTENT_TYPE = "application/x-amz-json-1.1"
_TARGET_PREFIX = "RedshiftData."
_MAX_BODY = 16 * 1024 * 1024
_LOOPBACK_NAMES = ("localhost",)


class DataApiHTTPServer(ThreadingHTTPServer):
    """A threaded HTTP server holding the :class:`DataApi` its handlers call."""

    daemon_threads = True
    # The sync keeps many statements in flight; a deep backlog avoids refused polls.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: DataApi) -> None:
        self.api = api
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: DataApiHTTPServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle on, delayed ACKs cost 40 ms each.
    disable_nagle_algorithm = True
    server_version = "contabyx-dataapi"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        # Only the request line reaches here; headers (Authorization) never do.
        _log.debug("%s " + format, self.address_string(), *args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", _CONTENT_TYPE)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(payload)

    def _send_error(self, error: ApiError) -> None:
        self._send(error.status, error.body())

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self.close_connection = True
            self._send_error(ApiError("SerializationException", "Invalid Content-Length."))
            return
        raw = self.rfile.read(length)
        target = self.headers.get("X-Amz-Target") or ""
        if not target.startswith(_TARGET_PREFIX):
            self._send_error(
                ApiError("UnknownOperationException", "Missing or unknown X-Amz-Target.")
            )
            return
        operation = target[len(_TARGET_PREFIX) :]
        try:
            request = json.loads(raw or b"{}")
        except ValueError:
            self._send_error(ApiError("SerializationException", "The body is not valid JSON."))
            return
        try:
            response = self.server.api.call(operation, request)
        except ApiError as error:
            _log.debug("%s -> %s", operation, error.code)
            self._send_error(error)
            return
        except Exception:
            _log.exception("%s failed", operation)
            self._send_error(
                ApiError("InternalServerException", "Internal server error.", status=500)
            )
            return
        self._send(200, response)

    def do_GET(self) -> None:
        self._send_error(ApiError("UnknownOperationException", "Use POST /.", status=404))


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.version == 4 and address.is_loopback


def make_http_server(api: DataApi, host: str = "127.0.0.1", port: int = 0) -> DataApiHTTPServer:
    """Bind the emulator's HTTP server (loopback addresses only; port 0 picks a free one).

    Example::

        server = make_http_server(api, "127.0.0.1", 0)
        print(server.server_address[1])
    """
    if not _is_loopback(host):
        raise ValueError(f"the Data API emulator listens on loopback only, not {host!r}")
    return DataApiHTTPServer((host, port), api)

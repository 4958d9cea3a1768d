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

import json
import logging
import uuid
from typing import Any

from ..httpd import LoopbackHTTPServer, QuietHandler, content_length, is_loopback
from .api import DataApi
from .errors import ApiError
from .model import check_client

__all__ = ["DataApiHTTPServer", "make_http_server"]

_log = logging.getLogger(__name__)

_CONTENT_TYPE = "application/x-amz-json-1.1"
_TARGET_PREFIX = "RedshiftData."


class DataApiHTTPServer(LoopbackHTTPServer):
    """A threaded HTTP server holding the :class:`DataApi` its handlers call."""

    def __init__(self, address: tuple[str, int], api: DataApi) -> None:
        self.api = api
        super().__init__(address, _Handler)


class _Handler(QuietHandler):
    server: DataApiHTTPServer
    server_version = "contabyx-dataapi"
    log = _log

    def version_string(self) -> str:
        return self.server_version

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
        length = content_length(self.headers.get("Content-Length"))
        if length is None:
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
            check_client(self.headers.get("User-Agent"))
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


def make_http_server(api: DataApi, host: str = "127.0.0.1", port: int = 0) -> DataApiHTTPServer:
    """Bind the emulator's HTTP server (loopback addresses only; port 0 picks a free one).

    Example::

        server = make_http_server(api, "127.0.0.1", 0)
        print(server.server_address[1])
    """
    if not is_loopback(host, ipv4_only=True):
        raise ValueError(f"the Data API emulator listens on loopback only, not {host!r}")
    return DataApiHTTPServer((host, port), api)

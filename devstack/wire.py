"""Redshift wire endpoint: lets ``redshift_connector`` talk to the local PostgreSQL.

``redshift_connector`` sends Redshift-only startup parameters
(``client_protocol_version``, ``driver_version``, ``os_version``, ...) that
PostgreSQL rejects as unknown settings. This small TCP front on 127.0.0.1
declines SSL, keeps only the startup parameters PostgreSQL knows, forwards the
rewritten startup packet to the PostgreSQL unix socket and then pipes bytes
both ways untouched.

Run::

    python -m devstack.wire --port 5439 --pg-socket /path/to/.s.PGSQL.5432

then::

    redshift_connector.connect(host="127.0.0.1", port=5439, database="dev",
                               user="awsuser", password="x", ssl=False)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import struct
from typing import List, Optional, Sequence, Tuple

PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
LOOPBACK = "127.0.0.1"  # the only address this endpoint ever listens on
_MAX_STARTUP = 10_000  # PostgreSQL's own limit on a startup packet

# Startup parameters forwarded to PostgreSQL (compared case-insensitively);
# everything else is a Redshift driver extra and is dropped.
KEPT_PARAMETERS = frozenset(
    name.lower()
    for name in (
        "user",
        "database",
        "options",
        "replication",
        "application_name",
        "client_encoding",
        "DateStyle",
        "TimeZone",
        "extra_float_digits",
        "IntervalStyle",
        "search_path",
        "standard_conforming_strings",
        "bytea_output",
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
    )
)


def parse_startup(body: bytes) -> Tuple[int, List[Tuple[str, str]]]:
    """Split a startup packet body (after the length) into protocol and parameters.

    >>> parse_startup(struct.pack("!I", PROTOCOL_3) + b"user\\0a\\0\\0")
    (196608, [('user', 'a')])
    """
    (protocol,) = struct.unpack("!I", body[:4])
    fields = body[4:].split(b"\0")
    params: List[Tuple[str, str]] = []
    for i in range(0, len(fields) - 1, 2):
        if not fields[i]:
            break
        params.append((fields[i].decode(), fields[i + 1].decode()))
    return protocol, params


def build_startup(protocol: int, params: Sequence[Tuple[str, str]]) -> bytes:
    """A whole startup packet (length included) from protocol and parameters."""
    body = struct.pack("!I", protocol)
    for key, value in params:
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def rewrite_startup(body: bytes, user: Optional[str] = None) -> bytes:
    """The startup packet to send PostgreSQL: only parameters it knows, and the
    ``user`` forced to ``user`` when given (whoever the client claims to be).

    >>> pkt = build_startup(PROTOCOL_3, [("user", "a"), ("driver_version", "2")])
    >>> parse_startup(rewrite_startup(pkt[4:])[4:])
    (196608, [('user', 'a')])
    >>> parse_startup(rewrite_startup(pkt[4:], user="awsuser")[4:])
    (196608, [('user', 'awsuser')])
    """
    protocol, params = parse_startup(body)
    kept = [(k, v) for k, v in params if k.lower() in KEPT_PARAMETERS]
    if user is not None:
        kept = [("user", user)] + [(k, v) for k, v in kept if k.lower() != "user"]
    return build_startup(protocol, kept)


async def _read_packet(reader: asyncio.StreamReader) -> bytes:
    """One untyped packet (startup, SSL, cancel): its body without the length."""
    (length,) = struct.unpack("!I", await reader.readexactly(4))
    if not 8 <= length <= _MAX_STARTUP:
        raise ValueError(f"bad startup packet length {length}")
    return await reader.readexactly(length - 4)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


class WireFront:
    """The asyncio server; one instance per listening port.

    Example::

        front = WireFront("/tmp/pg/.s.PGSQL.5432")
        asyncio.run(front.serve("127.0.0.1", 5439))
    """

    def __init__(self, pg_socket: str, pg_user: Optional[str] = None) -> None:
        self.pg_socket = pg_socket
        # The only PostgreSQL role a client of this front can be (None: the client's).
        self.pg_user = pg_user

    async def _negotiate(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Optional[bytes]:
        """Answer SSL/GSS requests with 'N'; return the packet for PostgreSQL."""
        while True:
            body = await _read_packet(reader)
            (code,) = struct.unpack("!I", body[:4])
            if code in (SSL_REQUEST, GSSENC_REQUEST):
                # Plain text only: this endpoint never leaves the loopback interface.
                writer.write(b"N")
                await writer.drain()
                continue
            if code == CANCEL_REQUEST:
                return struct.pack("!I", len(body) + 4) + body
            if code == PROTOCOL_3:
                return rewrite_startup(body, self.pg_user)
            return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one client connection until either side closes."""
        try:
            packet = await self._negotiate(reader, writer)
            if packet is None:
                return
            pg_reader, pg_writer = await asyncio.open_unix_connection(self.pg_socket)
        except (asyncio.IncompleteReadError, ValueError, ConnectionError, OSError):
            writer.close()
            return
        pg_writer.write(packet)
        await pg_writer.drain()
        await asyncio.gather(_pipe(reader, pg_writer), _pipe(pg_reader, writer))

    async def serve(self, host: str, port: int) -> None:
        """Listen on ``host:port`` until SIGTERM or SIGINT."""
        server = await asyncio.start_server(self.handle, host, port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        async with server:
            await stop.wait()


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.wire", description="Redshift wire endpoint for local PostgreSQL"
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pg-socket", required=True, help="path of PostgreSQL's unix socket")
    parser.add_argument(
        "--pg-user",
        default=None,
        help="log every client in as this PostgreSQL role, whatever user it sends",
    )
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line entry: serve until SIGTERM."""
    args = _parse_args(argv)
    asyncio.run(WireFront(args.pg_socket, args.pg_user).serve(LOOPBACK, args.port))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

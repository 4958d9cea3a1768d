"""Redshift wire endpoint: lets ``redshift_connector`` talk to the local PostgreSQL.

``redshift_connector`` sends Redshift-only startup parameters
(``client_protocol_version``, ``driver_version``, ``os_version``, ...) that
PostgreSQL rejects as unknown settings. This small TCP front on 127.0.0.1
declines SSL, keeps only the startup parameters PostgreSQL knows and forwards the
rewritten startup packet to the PostgreSQL unix socket.

After the startup it refuses what Amazon Redshift refuses and PostgreSQL accepts, so
that code relying on it fails here too (see :func:`refusal`):

- a ``DECLARE ... CURSOR`` sent as a prepared statement (a Parse message): Redshift
  documents one open cursor per session, materialised whole on the leader node, and
  drivers report a prepared ``DECLARE`` failing there;
- a ``FETCH`` of more than 1,000 rows (``FETCH ALL``, ``FORWARD ALL``, ``FORWARD n``
  with n > 1000), simple or extended protocol: Redshift's FETCH reference caps the
  count at 1,000 and refuses ALL on single-node clusters; this front takes that,
  the strict case, for every cluster.

A refused message reaches PostgreSQL as a statement that fails to parse (a marker),
so PostgreSQL answers in order and keeps its own error state: the rest of the
extended-protocol batch is skipped up to Sync, then ReadyForQuery, and a
transaction block is left aborted, as after any error. The front replaces that
marker's ErrorResponse by Redshift's message and SQLSTATE. Only Parse and Query
messages (from the client) and ErrorResponse messages (from the server) are read
whole; every other message is passed through as it arrives, its length only skipped.

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
import itertools
import re
import secrets
import signal
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from devstack.sqltext import skip_block_comment, without_table_attributes

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


# --------------------------------------------------------------------------- refusals

FETCH_LIMIT = 1000  # Redshift's FETCH reference: the count's maximum on single-node clusters
# Redshift reports its own limits with SQLSTATE XX000 (internal error), as drivers show.
REDSHIFT_INTERNAL_ERROR = "XX000"
_MAX_WORDS = 8  # enough to reach CURSOR in DECLARE name [BINARY] [INSENSITIVE] [NO] SCROLL CURSOR


@dataclass(frozen=True)
class Refusal:
    """What Redshift answers to a statement PostgreSQL would run: SQLSTATE and message."""

    code: str
    message: str


def _fetch_size_refusal(size: int) -> Refusal:
    return Refusal(
        REDSHIFT_INTERNAL_ERROR,
        f"Fetch size {size} exceeds the limit of {FETCH_LIMIT} for a single node configuration."
        " Reduce the client fetch/cache size or upgrade to a multi node installation.",
    )


FETCH_ALL_REFUSAL = Refusal(
    REDSHIFT_INTERNAL_ERROR,
    "FETCH ALL (FORWARD ALL) is not supported for single-node clusters:"
    f" fetch at most {FETCH_LIMIT} rows at a time (FETCH FORWARD {FETCH_LIMIT}).",
)
PREPARED_DECLARE_REFUSAL = Refusal(
    REDSHIFT_INTERNAL_ERROR,
    "DECLARE CURSOR cannot be a prepared statement (extended query protocol) on Amazon"
    " Redshift: run the query itself, without a cursor.",
)

# One token of SQL: what cannot hold a ';' or a keyword is consumed whole.
_TOKEN = re.compile(
    r"""\s+|--[^\n]*|/\*|[eE]'(?:\\.|''|[^'\\])*'?|'(?:''|[^'])*'?|"(?:""|[^"])*"?"""
    r"""|\$(?:[A-Za-z_]\w*)?\$|[A-Za-z_][\w$]*|[0-9]+|.""",
    re.S,
)


def statement_words(sql: str) -> Iterator[List[str]]:
    """The first words of each ``;``-separated statement of ``sql``, upper-cased.

    Strings, quoted identifiers, dollar-quoted bodies and comments are skipped (a
    quoted identifier counts as the word ``"``); integers and symbols are words too.

    >>> list(statement_words("fetch forward 5 from c; /* ; */ SELECT ';'"))
    [['FETCH', 'FORWARD', '5', 'FROM', 'C'], ['SELECT']]
    """
    words: List[str] = []
    i, n = 0, len(sql)
    while i < n:
        token = _TOKEN.match(sql, i)
        assert token is not None  # the last alternative matches any character
        text, i = token.group(0), token.end()
        first = text[0]
        if text == ";":
            yield words
            words = []
        elif text == "/*":
            i = skip_block_comment(sql, i)
        elif first == "$" and len(text) > 1:
            end = sql.find(text, i)
            i = n if end == -1 else end + len(text)
        elif first.isspace() or text.startswith("--") or _is_string(text):
            continue
        elif len(words) < _MAX_WORDS:
            words.append('"' if first == '"' else text.upper())
    yield words


def _is_string(token: str) -> bool:
    return token[0] == "'" or (token[0] in "eE" and token[1:2] == "'")


def _fetch_refusal(words: Sequence[str]) -> Optional[Refusal]:
    """Redshift's answer to ``FETCH <words>``, when it refuses it."""
    direction = list(words[:2])
    if direction[:1] == ["FORWARD"]:
        direction = direction[1:]
    if direction[:1] == ["ALL"]:
        return FETCH_ALL_REFUSAL
    if direction[:1] and direction[0].isdigit() and int(direction[0]) > FETCH_LIMIT:
        return _fetch_size_refusal(int(direction[0]))
    return None


def refusal(sql: str, *, prepared: bool) -> Optional[Refusal]:
    """Redshift's refusal of ``sql`` (one message's text), or None when it runs it.

    ``prepared``: the text came in a Parse message (extended query protocol), where
    ``DECLARE ... CURSOR`` is refused; a FETCH over 1,000 rows is refused either way.

    >>> refusal("FETCH FORWARD 1000 FROM c", prepared=True) is None
    True
    >>> refusal("fetch all from c", prepared=False) == FETCH_ALL_REFUSAL
    True
    >>> refusal("DECLARE c CURSOR FOR SELECT 1", prepared=True) == PREPARED_DECLARE_REFUSAL
    True
    """
    for words in statement_words(sql):
        if not words:
            continue
        if prepared and words[0] == "DECLARE" and "CURSOR" in words:
            return PREPARED_DECLARE_REFUSAL
        if words[0] == "FETCH":
            found = _fetch_refusal(words[1:])
            if found is not None:
                return found
    return None


# --------------------------------------------------------------------------- messages

_LENGTH = struct.Struct("!I")
PARSE, QUERY, ERROR_RESPONSE = b"P"[0], b"Q"[0], b"E"[0]


def message(kind: bytes, body: bytes) -> bytes:
    """A whole protocol-3 message: type byte, length, body."""
    return kind + _LENGTH.pack(len(body) + 4) + body


def error_response(found: Refusal) -> bytes:
    """A PostgreSQL ErrorResponse carrying ``found``'s SQLSTATE and message."""
    fields = (("S", "ERROR"), ("V", "ERROR"), ("C", found.code), ("M", found.message))
    body = b"".join(tag.encode() + value.encode() + b"\0" for tag, value in fields)
    return message(b"E", body + b"\0")


def message_text(whole: bytes) -> Tuple[bytes, bytes]:
    """``(statement name, SQL)`` of a whole Parse message, ``(b"", SQL)`` of a Query."""
    if whole[0] == QUERY:
        return b"", whole[5 : whole.index(b"\0", 5)]
    name_end = whole.index(b"\0", 5)
    return whole[5:name_end], whole[name_end + 1 : whole.index(b"\0", name_end + 1)]


class MessageSplitter:
    r"""Cuts a protocol-3 message stream (after the startup) into messages, chunk by chunk.

    :meth:`feed` returns the stream's bytes in order, as ``(None, raw)`` for messages
    passed through as they come (only their length is read), and ``(kind, message)``
    for each whole message of a kind in ``hold`` (type byte, length and body).

    >>> splitter = MessageSplitter(b"Q")
    >>> splitter.feed(b"H\0\0\0\4Q\0\0\0\6x")
    [(None, b'H\x00\x00\x00\x04')]
    >>> splitter.feed(b"\0S")
    [(81, b'Q\x00\x00\x00\x06x\x00')]
    """

    def __init__(self, hold: Iterable[int]) -> None:
        self._hold = frozenset(hold)
        self._head = b""  # a message header cut by the end of the last chunk
        self._skip = 0  # bytes still to come of a message passed through
        self._held = bytearray()  # a held message cut by the end of the last chunk
        self._need = 0  # bytes still to come of that held message

    def feed(self, data: bytes) -> List[Tuple[Optional[int], bytes]]:
        """The pieces of ``data`` (with what earlier chunks left unfinished)."""
        pieces: List[Tuple[Optional[int], bytes]] = []
        if self._head:
            data, self._head = self._head + data, b""
        pos, n = 0, len(data)
        if self._need:
            pos = min(self._need, n)
            self._held += data[:pos]
            self._need -= pos
            if self._need:
                return pieces
            whole, self._held = bytes(self._held), bytearray()
            pieces.append((whole[0], whole))
        elif self._skip:
            pos = min(self._skip, n)
            self._skip -= pos
        run = pos if pieces else 0  # start of the bytes passed through
        hold, unpack, last = self._hold, _LENGTH.unpack_from, n - 5
        while pos <= last:
            end = pos + 1 + unpack(data, pos + 1)[0]
            if pos + 5 <= end <= n and data[pos] not in hold:
                pos = end  # the common case, kept short: a whole message passed through
                continue
            if end < pos + 5:
                raise ValueError(f"bad protocol message length {end - pos - 1}")
            if data[pos] not in hold:
                self._skip, pos = end - n, n
                break
            if run < pos:
                pieces.append((None, data[run:pos]))
            if end > n:
                self._held, self._need = bytearray(data[pos:]), end - n
                run = pos = n
                break
            pieces.append((data[pos], data[pos:end]))
            run = pos = end
        if pos < n:
            self._head = data[pos:]
        stop = n - len(self._head)
        if run < stop:
            pieces.append((None, data[run:stop]))
        return pieces


class Session:
    """One client connection's refusals: rewrites both directions of its stream.

    A refused Parse or Query goes to PostgreSQL as a marker that fails to parse;
    the ErrorResponse naming that marker comes back with Redshift's answer instead.
    """

    def __init__(self) -> None:
        self._prefix = f"contabyx_refused_{secrets.token_hex(6)}_"
        self._marker = re.compile(re.escape(self._prefix.encode()) + rb"(\d+)")
        self._numbers = itertools.count(1)
        self._pending: Dict[int, Refusal] = {}
        self._client = MessageSplitter((PARSE, QUERY))
        self._server = MessageSplitter((ERROR_RESPONSE,))

    def from_client(self, data: bytes) -> bytes:
        """What to send PostgreSQL for ``data`` from the client."""
        return b"".join(
            raw if kind is None else self._client_message(raw)
            for kind, raw in self._client.feed(data)
        )

    def from_server(self, data: bytes) -> bytes:
        """What to send the client for ``data`` from PostgreSQL."""
        return b"".join(
            raw if kind is None else self._server_message(raw)
            for kind, raw in self._server.feed(data)
        )

    def _client_message(self, whole: bytes) -> bytes:
        name, sql = message_text(whole)
        # latin-1 never fails, and keeps every ASCII byte (all the syntax looked at).
        text = sql.decode("latin-1")
        found = refusal(text, prepared=whole[0] == PARSE)
        if found is None:
            return _for_postgres(whole, name, text)
        number = next(self._numbers)
        self._pending[number] = found
        marker = (self._prefix + str(number)).encode()
        if whole[0] == QUERY:
            return message(b"Q", marker + b"\0")
        return message(b"P", name + b"\0" + marker + b"\0" + b"\0\0")

    def _server_message(self, whole: bytes) -> bytes:
        named = self._marker.search(whole) if self._pending else None
        if named is None:
            return whole
        number = int(named.group(1))
        found = self._pending.pop(number, None)
        # Refusals before this one were skipped by PostgreSQL (an earlier error): forget them.
        for older in [key for key in self._pending if key < number]:
            del self._pending[older]
        return whole if found is None else error_response(found)


def _for_postgres(whole: bytes, name: bytes, text: str) -> bytes:
    """``whole`` (a Parse or Query) with Redshift's table attributes taken out of its
    SQL, which PostgreSQL has no syntax for; they change no result."""
    local = without_table_attributes(text)
    if local == text:
        return whole
    sql = local.encode("latin-1")
    if whole[0] == QUERY:
        return message(b"Q", sql + b"\0")
    name_end = whole.index(b"\0", 5)
    rest = whole[whole.index(b"\0", name_end + 1) + 1 :]  # parameter types
    return message(b"P", name + b"\0" + sql + b"\0" + rest)


async def _read_packet(reader: asyncio.StreamReader) -> bytes:
    """One untyped packet (startup, SSL, cancel): its body without the length."""
    (length,) = struct.unpack("!I", await reader.readexactly(4))
    if not 8 <= length <= _MAX_STARTUP:
        raise ValueError(f"bad startup packet length {length}")
    return await reader.readexactly(length - 4)


async def _pipe(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    rewrite: Callable[[bytes], bytes],
) -> None:
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            writer.write(rewrite(chunk))
            await writer.drain()
    except (ConnectionError, OSError, ValueError):  # ValueError: a malformed message
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
        session = Session()
        await asyncio.gather(
            _pipe(reader, pg_writer, session.from_client),
            _pipe(pg_reader, writer, session.from_server),
        )

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

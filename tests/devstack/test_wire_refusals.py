"""The wire endpoint refuses what Amazon Redshift refuses, as Redshift's clients see it.

Redshift's DECLARE and FETCH references: one open cursor per session, materialised
whole on the leader node; FETCH's count is at most 1,000 and ALL is refused on
single-node clusters (the endpoint enforces that, the strict case, everywhere).
Drivers report a DECLARE sent as a prepared statement failing on Redshift. Each
refusal is an ErrorResponse (SQLSTATE XX000, as Redshift reports its limits); the
session then goes on as PostgreSQL's does after any error.

These tests talk to the endpoint only through clients (redshift_connector, libpq
through psycopg, and a raw socket for the message order), never to its code.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import redshift_connector

LIMIT_MESSAGE = "exceeds the limit of 1000 for a single node configuration"
DECLARE_MESSAGE = "DECLARE CURSOR cannot be a prepared statement"
FETCH_ALL_MESSAGE = "FETCH ALL (FORWARD ALL) is not supported for single-node clusters"


@pytest.fixture()
def connection(local_stack: Any) -> Iterator[Any]:
    env = local_stack.env
    conn = redshift_connector.connect(
        host=env["REDSHIFT_HOST"],
        port=int(env["REDSHIFT_PORT"]),
        database=env["DATABASE"],
        user=env["DBUSER"],
        password="anything",
        ssl=False,
    )
    yield conn
    conn.close()


def _refused(cursor: Any, sql: str) -> dict[str, str]:
    """The error fields of the refusal of ``sql`` (redshift_connector sends it prepared)."""
    with pytest.raises(redshift_connector.ProgrammingError) as info:
        cursor.execute(sql)
    (fields,) = info.value.args
    assert isinstance(fields, dict), fields
    return fields


def test_a_prepared_declare_is_refused_and_the_session_goes_on(connection: Any) -> None:
    cursor = connection.cursor()
    fields = _refused(cursor, "DECLARE c CURSOR FOR SELECT generate_series(1, 10)")
    assert DECLARE_MESSAGE in fields["M"] and fields["C"] == "XX000"
    # The driver's transaction is aborted, as after any error on Redshift or PostgreSQL.
    with pytest.raises(redshift_connector.ProgrammingError, match="transaction is aborted"):
        cursor.execute("SELECT 1")
    connection.rollback()
    cursor.execute("SELECT count(*) FROM generate_series(1, 1500)")
    assert cursor.fetchall() == ([1500],)
    # The same text again: refused again (the driver kept no prepared statement of it).
    assert DECLARE_MESSAGE in _refused(cursor, "declare c cursor for select 1")["M"]
    connection.rollback()
    cursor.execute("SELECT %s::int + 1", (41,))
    assert cursor.fetchone() == [42]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("FETCH FORWARD 1001 FROM c", "Fetch size 1001 " + LIMIT_MESSAGE),
        ("fetch 5000 in c", "Fetch size 5000 " + LIMIT_MESSAGE),
        ("FETCH ALL FROM c", FETCH_ALL_MESSAGE),
        ("/* paging */ Fetch Forward All From c", FETCH_ALL_MESSAGE),
    ],
)
def test_a_fetch_over_1000_rows_is_refused_in_the_extended_protocol(
    connection: Any, sql: str, message: str
) -> None:
    cursor = connection.cursor()
    fields = _refused(cursor, sql)
    assert message in fields["M"] and fields["C"] == "XX000"
    connection.rollback()
    # Within the limit the statement reaches PostgreSQL (which has no cursor c).
    with pytest.raises(redshift_connector.ProgrammingError, match='cursor "c" does not exist'):
        cursor.execute("FETCH FORWARD 1000 FROM c")
    connection.rollback()
    cursor.execute("SELECT 7")
    assert cursor.fetchone() == [7]


def test_a_cursor_in_the_simple_protocol_fetches_1000_rows_not_more(local_stack: Any) -> None:
    env = local_stack.env
    with psycopg.connect(
        host=env["REDSHIFT_HOST"],
        port=env["REDSHIFT_PORT"],
        dbname=env["DATABASE"],
        user=env["DBUSER"],
        sslmode="disable",
    ) as conn:
        pgconn = conn.pgconn  # PQexec: the simple query protocol, as psql sends it

        def run(sql: str) -> Any:
            return pgconn.exec_(sql.encode())

        assert run("BEGIN").status == psycopg.pq.ExecStatus.COMMAND_OK
        declared = run("DECLARE c CURSOR FOR SELECT generate_series(1, 2500)")
        assert declared.status == psycopg.pq.ExecStatus.COMMAND_OK
        fetched = run("FETCH FORWARD 1000 FROM c")
        assert fetched.status == psycopg.pq.ExecStatus.TUPLES_OK and fetched.ntuples == 1000
        refused = run("FETCH ALL FROM c")
        assert refused.status == psycopg.pq.ExecStatus.FATAL_ERROR
        assert refused.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == b"XX000"
        assert FETCH_ALL_MESSAGE in (refused.error_message or b"").decode()
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        aborted = run("FETCH FORWARD 10 FROM c")
        assert b"transaction is aborted" in (aborted.error_message or b"")
        assert run("ROLLBACK").status == psycopg.pq.ExecStatus.COMMAND_OK
        # Several statements in one Query message: refused whole, none of them runs.
        refused = run("SELECT 1; FETCH 2000 FROM c")
        assert b"Fetch size 2000 " + LIMIT_MESSAGE.encode() in (refused.error_message or b"")
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert run("SELECT 'FETCH ALL FROM c'").get_value(0, 0) == b"FETCH ALL FROM c"


# --------------------------------------------------------------------------- raw protocol


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!I", len(body) + 4) + body


def _read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    def exactly(n: int) -> bytes:
        data = b""
        while len(data) < n:
            more = sock.recv(n - len(data))
            assert more, "the endpoint closed the connection"
            data += more
        return data

    header = exactly(5)
    (length,) = struct.unpack("!I", header[1:])
    return header[:1], exactly(length - 4)


def _until_ready(sock: socket.socket) -> list[tuple[bytes, bytes]]:
    received = []
    while True:
        kind, body = _read_message(sock)
        received.append((kind, body))
        if kind == b"Z":
            return received


def _fields(body: bytes) -> dict[str, str]:
    return {part[:1].decode(): part[1:].decode() for part in body.split(b"\0") if part}


def test_pipelined_messages_keep_their_order_and_postgresql_error_state(local_stack: Any) -> None:
    env = local_stack.env
    with socket.create_connection(("127.0.0.1", int(env["REDSHIFT_PORT"])), timeout=30) as sock:
        params = b"user\0" + env["DBUSER"].encode() + b"\0database\0" + env["DATABASE"].encode()
        body = struct.pack("!I", 196608) + params + b"\0\0"
        sock.sendall(struct.pack("!I", len(body) + 4) + body)
        assert _until_ready(sock)[0][0] == b"R"
        select = _message(b"P", b"\0SELECT 41 + 1\0\0\0") + _message(b"B", b"\0\0" + b"\0" * 6)
        execute = _message(b"E", b"\0\0\0\0\0")
        sock.sendall(
            select
            + execute
            + _message(b"P", b"s1\0DECLARE c CURSOR FOR SELECT 1\0\0\0")
            + _message(b"D", b"Ss1\0")
            + select  # skipped by the server, as after any error, up to Sync
            + execute
            + _message(b"S", b"")
            + select
            + execute
            + _message(b"S", b"")
        )
        first = _until_ready(sock)
        assert [kind for kind, _ in first] == [b"1", b"2", b"D", b"C", b"E", b"Z"]
        assert first[2][1].endswith(b"42")
        error = _fields(first[4][1])
        assert DECLARE_MESSAGE in error["M"] and error["C"] == "XX000" and error["S"] == "ERROR"
        assert first[5][1] == b"I"
        second = _until_ready(sock)
        assert [kind for kind, _ in second] == [b"1", b"2", b"D", b"C", b"Z"]
        # Ordinary errors come through untouched.
        sock.sendall(_message(b"Q", b"SELECT no_such_column\0"))
        third = _until_ready(sock)
        assert [kind for kind, _ in third] == [b"E", b"Z"]
        assert "no_such_column" in _fields(third[0][1])["M"]
        sock.sendall(_message(b"X", b""))

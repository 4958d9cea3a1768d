"""The Redshift wire endpoint: redshift_connector reads what the Data API reads."""

from __future__ import annotations

import socket
import struct
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3
import psycopg
import pytest
import redshift_connector
from hypothesis import given
from hypothesis import strategies as st

from devstack.wire import (
    FETCH_ALL_REFUSAL,
    PREPARED_DECLARE_REFUSAL,
    PROTOCOL_3,
    SSL_REQUEST,
    MessageSplitter,
    Refusal,
    Session,
    build_startup,
    error_response,
    message,
    message_text,
    parse_startup,
    refusal,
    rewrite_startup,
    statement_words,
)

ROWS = 250  # more than two Data API pages at the test stack's page size of 100


def connect(env: dict[str, str]) -> Any:
    return redshift_connector.connect(
        host=env["REDSHIFT_HOST"],
        port=int(env["REDSHIFT_PORT"]),
        database=env["DATABASE"],
        user=env["DBUSER"],
        password="anything",
        ssl=False,
    )


@pytest.fixture(scope="module")
def table(warehouse: psycopg.Connection[Any]) -> Iterator[str]:
    name = f"wire_{uuid.uuid4().hex[:8]}"
    warehouse.execute(
        f"CREATE TABLE public.{name} (id BIGINT, n INTEGER, label VARCHAR(32), "
        "amount DECIMAL(12,2), at TIMESTAMP, flag BOOLEAN, ratio DOUBLE PRECISION)"
    )
    warehouse.execute(
        f"INSERT INTO public.{name} SELECT i * 4294967311, i, 'row ' || i, i * 1.25 + 0.01,"
        " TIMESTAMP '2015-12-31 23:59:59' + i * INTERVAL '1 hour 1 second', i % 2 = 0,"
        f" i / 8.0 FROM generate_series(1, {ROWS}) AS i"
    )
    warehouse.execute(
        f"INSERT INTO public.{name} VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    yield name
    warehouse.execute(f"DROP TABLE public.{name}")


def _data_api_value(field: dict[str, Any], type_name: str) -> Any:
    if field.get("isNull"):
        return None
    if "longValue" in field:
        return field["longValue"]
    if "booleanValue" in field:
        return field["booleanValue"]
    if "doubleValue" in field:
        return field["doubleValue"]
    text = field["stringValue"]
    if type_name == "numeric":
        return Decimal(text)
    if type_name == "timestamp":
        return datetime.fromisoformat(text)
    return text


def _data_api_rows(env: dict[str, str], sql: str) -> list[list[Any]]:
    client = boto3.client("redshift-data")
    started = client.execute_statement(
        ClusterIdentifier=env["CLUSTER"], Database=env["DATABASE"], DbUser=env["DBUSER"], Sql=sql
    )
    deadline = time.monotonic() + 30
    while True:
        described = client.describe_statement(Id=started["Id"])
        if described["Status"] in ("FINISHED", "FAILED", "ABORTED"):
            break
        assert time.monotonic() < deadline, described
        time.sleep(0.02)
    assert described["Status"] == "FINISHED", described.get("Error")
    rows: list[list[Any]] = []
    pages = 0
    kwargs: dict[str, Any] = {"Id": started["Id"]}
    while True:
        page = client.get_statement_result(**kwargs)
        pages += 1
        types = [c["typeName"] for c in page["ColumnMetadata"]]
        rows.extend([_data_api_value(f, t) for f, t in zip(r, types)] for r in page["Records"])
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    assert pages >= 3
    return rows


def test_redshift_connector_reads_the_rows_the_data_api_reads(local_stack: Any, table: str) -> None:
    sql = f"SELECT id, n, label, amount, at, flag, ratio FROM public.{table} ORDER BY n NULLS LAST"
    via_api = _data_api_rows(local_stack.env, sql)
    with connect(local_stack.env) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        via_wire = [list(row) for row in cursor.fetchall()]
    assert len(via_wire) == ROWS + 1
    assert via_wire == via_api
    first = via_wire[0]
    assert first == [
        4294967311,
        1,
        "row 1",
        Decimal("1.26"),
        datetime(2016, 1, 1, 1, 0, 0),
        False,
        0.125,
    ]
    assert via_wire[-1] == [None] * 7


def test_parameters_transactions_and_the_source_schema(local_stack: Any) -> None:
    with connect(local_stack.env) as conn:
        cursor = conn.cursor()
        cursor.execute("SELECT %s::BIGINT + 1, current_user, current_database()", (2**62,))
        assert cursor.fetchone() == [2**62 + 1, "awsuser", "dev"]
        cursor.execute("SELECT count(*) FROM contabyx.transactiontypes")
        assert cursor.fetchone()[0] >= 0
        conn.rollback()


def test_ssl_is_declined_and_driver_parameters_are_dropped(local_stack: Any) -> None:
    port = int(local_stack.env["REDSHIFT_PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(struct.pack("!II", 8, SSL_REQUEST))
        assert sock.recv(1) == b"N"
        sock.sendall(
            build_startup(
                PROTOCOL_3,
                [
                    ("user", "awsuser"),
                    ("database", "dev"),
                    ("driver_version", "x"),
                    ("os_version", "y"),
                ],
            )
        )
        assert sock.recv(1) == b"R"  # authentication message: PostgreSQL accepted the startup


def test_rewrite_keeps_only_what_postgresql_knows() -> None:
    packet = build_startup(
        PROTOCOL_3,
        [
            ("user", "awsuser"),
            ("database", "dev"),
            ("application_name", "app"),
            ("client_protocol_version", "2"),
            ("driver_version", "Redshift Python Driver 2.2.0"),
            ("os_version", "Linux"),
            ("driver_discovery_version", "1"),
            ("DateStyle", "ISO"),
            ("plugin_name", "x"),
        ],
    )
    protocol, params = parse_startup(rewrite_startup(packet[4:])[4:])
    assert protocol == PROTOCOL_3
    assert params == [
        ("user", "awsuser"),
        ("database", "dev"),
        ("application_name", "app"),
        ("DateStyle", "ISO"),
    ]


# --------------------------------------------------------------------------- refusals


def _size(n: int) -> str:
    return f"Fetch size {n} exceeds the limit of 1000 for a single node configuration."


@pytest.mark.parametrize(
    ("sql", "prepared", "expected"),
    [
        ("DECLARE c CURSOR FOR SELECT 1", True, PREPARED_DECLARE_REFUSAL.message),
        ('declare "My c" binary insensitive no scroll cursor for select 1', True, "DECLARE"),
        ("  /* why */ -- not this\n DECLARE c CURSOR FOR SELECT $1", True, "DECLARE"),
        ("DECLARE c CURSOR FOR SELECT 1", False, None),  # a simple query may declare one
        ("FETCH ALL FROM c", False, FETCH_ALL_REFUSAL.message),
        ("fetch forward all in c", True, FETCH_ALL_REFUSAL.message),
        ("FETCH FORWARD 1001 FROM c", True, _size(1001)),
        ("FETCH\tFORWARD\n20000 FROM c;", False, _size(20000)),
        ("FETCH 5000 FROM c", False, _size(5000)),
        ("FETCH + 5000 FROM c", False, None),  # not Redshift's syntax; PostgreSQL decides
        ("SELECT 1; FETCH ALL FROM c", False, FETCH_ALL_REFUSAL.message),
        ("FETCH FORWARD 1000 FROM c", True, None),
        ("FETCH 1000 FROM c", True, None),
        ("FETCH NEXT FROM c", True, None),
        ("FETCH FORWARD FROM c", True, None),
        ("FETCH FROM c", True, None),
        ("FETCH FORWARD 0 FROM c", True, None),
        ("SELECT 'FETCH ALL FROM c', E'\\' ; FETCH ALL', \"FETCH ALL\"", False, None),
        ("SELECT $$; FETCH ALL FROM c$$, $t$ DECLARE c CURSOR $t$", True, None),
        ("/* /* nested */ ; FETCH ALL FROM c */ SELECT 1", True, None),
        ("-- FETCH ALL FROM c\nSELECT 1", True, None),
        ("SELECT fetch_size FROM t WHERE declare = 'cursor'", True, None),
        ("", True, None),
        (";;", False, None),
    ],
)
def test_refusal(sql: str, prepared: bool, expected: str | None) -> None:
    found = refusal(sql, prepared=prepared)
    if expected is None:
        assert found is None
    else:
        assert found is not None and expected in found.message and found.code == "XX000"


def test_statement_words() -> None:
    assert list(statement_words("SELECT 1")) == [["SELECT", "1"]]
    assert list(statement_words("a \"b;c\" 'd;e' f;g")) == [["A", '"', "F"], ["G"]]
    assert list(statement_words("x $tag$ ; $other$ ; $tag$ y")) == [["X", "Y"]]
    assert list(statement_words("unterminated 'string ; FETCH ALL")) == [["UNTERMINATED"]]
    assert list(statement_words("a /* unterminated ; b")) == [["A"]]
    assert list(statement_words("a b c d e f g h i j")) == [list("ABCDEFGH")]


# --------------------------------------------------------------------------- messages

_KINDS = st.sampled_from(b"PQEDBSHCXdZ1")
_MESSAGES = st.builds(
    lambda kind, body: message(bytes([kind]), body), _KINDS, st.binary(max_size=40)
)


@given(
    st.lists(_MESSAGES, max_size=12),
    st.lists(st.integers(min_value=0, max_value=400), max_size=10),
)
def test_the_splitter_passes_every_byte_and_holds_whole_messages(
    messages: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(messages)
    bounds = sorted({min(cut, len(stream)) for cut in cuts} | {0, len(stream)})
    chunks = [stream[a:b] for a, b in zip(bounds, bounds[1:])]
    splitter = MessageSplitter(b"PQ")
    pieces = [piece for chunk in chunks for piece in splitter.feed(chunk)]
    assert b"".join(raw for _, raw in pieces) == stream
    assert [raw for kind, raw in pieces if kind is not None] == [
        m for m in messages if m[:1] in (b"P", b"Q")
    ]
    assert all(raw[0] == kind for kind, raw in pieces if kind is not None)


def test_the_splitter_refuses_a_length_below_four() -> None:
    with pytest.raises(ValueError, match="length 3"):
        MessageSplitter(b"P").feed(b"X\0\0\0\3")


def test_message_text() -> None:
    parse = message(b"P", b"s1\0SELECT $1\0\0\1\0\0\0\x17")
    assert message_text(parse) == (b"s1", b"SELECT $1")
    assert message_text(message(b"Q", b"SELECT 1; SELECT 2\0")) == (b"", b"SELECT 1; SELECT 2")


def test_error_response_fields() -> None:
    raw = error_response(Refusal("XX000", "too many rows"))
    assert raw[:1] == b"E" and int.from_bytes(raw[1:5], "big") == len(raw) - 1
    assert raw[5:] == b"SERROR\0VERROR\0CXX000\0Mtoo many rows\0\0"


def _server_error(text: str) -> bytes:
    return message(b"E", b"SERROR\0C42601\0M" + text.encode() + b"\0\0")


def test_a_session_swaps_a_refused_parse_for_a_marker_and_its_error_back() -> None:
    session = Session()
    sync = message(b"S", b"")
    declare = message(b"P", b"s1\0DECLARE c CURSOR FOR SELECT $1\0\0\1\0\0\0\x17")
    # Cut in the middle of the Parse: nothing of it goes out before it is whole.
    sent = session.from_client(declare[:9]) + session.from_client(declare[9:] + sync)
    assert sent.endswith(sync)
    name, marker = message_text(sent[: -len(sync)])
    assert name == b"s1" and b"DECLARE" not in marker and marker
    assert sent[: -len(sync)].endswith(b"\0\0\0")  # no parameter types any more
    # PostgreSQL's syntax error naming the marker comes back as Redshift's refusal.
    unrelated = _server_error('syntax error at or near "FROM"')
    answer = _server_error(f'syntax error at or near "{marker.decode()}"')
    ready = message(b"Z", b"I")
    back = session.from_server(unrelated + answer[:7]) + session.from_server(answer[7:] + ready)
    assert back == unrelated + error_response(PREPARED_DECLARE_REFUSAL) + ready
    # Once answered, the same error text is PostgreSQL's own again.
    assert session.from_server(answer) == answer


def test_a_session_forgets_refusals_postgresql_skipped() -> None:
    session = Session()
    first = session.from_client(message(b"Q", b"FETCH ALL FROM c\0"))
    second = session.from_client(message(b"Q", b"FETCH 2000 FROM c\0"))
    _, first_marker = message_text(first)
    _, second_marker = message_text(second)
    assert first_marker != second_marker
    found = refusal("FETCH 2000 FROM c", prepared=False)
    assert found is not None
    assert session.from_server(_server_error(second_marker.decode())) == error_response(found)
    stale = _server_error(first_marker.decode())
    assert session.from_server(stale) == stale


def test_a_session_passes_what_redshift_runs_untouched() -> None:
    session = Session()
    stream = (
        message(b"P", b"\0SELECT 1\0\0\0")
        + message(b"B", b"\0\0" + b"\0" * 6)
        + message(b"Q", b"DECLARE c CURSOR FOR SELECT 1; FETCH 1000 FROM c\0")
        + message(b"d", b"copy data")
    )
    assert session.from_client(stream) == stream
    assert session.from_server(_server_error("contabyx_refused_0_1")) == _server_error(
        "contabyx_refused_0_1"
    )

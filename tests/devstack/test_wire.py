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

from devstack.wire import PROTOCOL_3, SSL_REQUEST, build_startup, parse_startup, rewrite_startup

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

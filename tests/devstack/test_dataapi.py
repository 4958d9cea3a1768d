"""The Data API emulator through an unmodified boto3 client, on a throwaway PostgreSQL."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from botocore.config import Config
from pgserver.postgres_server import get_server
from psycopg.conninfo import make_conninfo

from devstack.dataapi import DataApiServer

PAGE_SIZE = 7
DATABASE = "dataapi_test"
REPO = Path(__file__).resolve().parents[2]
DONE = ("FINISHED", "FAILED", "ABORTED")


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    """Conninfo of a throwaway PostgreSQL holding an empty DATABASE."""
    workdir = tempfile.mkdtemp(prefix="dataapi-pg-")
    # pgserver runs PostgreSQL as its own OS user when started as root.
    os.chmod(workdir, 0o777)
    server = get_server(workdir, cleanup_mode="stop")
    uri = server.get_uri()
    with psycopg.connect(uri, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    yield uri
    server.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="module")
def server(postgres: str) -> Iterator[DataApiServer]:
    with DataApiServer(postgres, page_size=PAGE_SIZE) as running:
        yield running


def _client(endpoint_url: str | None, **config: Any) -> Any:
    """A real boto3 client; without ``endpoint_url`` it follows AWS_ENDPOINT_URL_REDSHIFT_DATA."""
    return boto3.client(
        "redshift-data",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(max_pool_connections=32, retries={"max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def client(server: DataApiServer) -> Any:
    return _client(server.endpoint_url)


@pytest.fixture(scope="module")
def db(postgres: str) -> Iterator[psycopg.Connection[Any]]:
    """A direct connection to DATABASE, to arrange and check data behind the API."""
    with psycopg.connect(make_conninfo(postgres, dbname=DATABASE), autocommit=True) as conn:
        yield conn


def wait(client: Any, statement_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """Poll DescribeStatement until the statement ends; returns the last description."""
    deadline = time.monotonic() + timeout
    while True:
        described: dict[str, Any] = client.describe_statement(Id=statement_id)
        if described["Status"] in DONE:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"{statement_id} still {described['Status']}")
        time.sleep(0.02)


def run(client: Any, sql: str, **kwargs: Any) -> dict[str, Any]:
    """Execute ``sql`` on DATABASE and wait for it to end."""
    kwargs.setdefault("Database", DATABASE)
    kwargs.setdefault("ClusterIdentifier", "local-cluster")
    kwargs.setdefault("DbUser", "awsuser")
    out = client.execute_statement(Sql=sql, **kwargs)
    return wait(client, out["Id"])


def records(client: Any, statement_id: str) -> tuple[list[list[dict[str, Any]]], int]:
    """Every record of a JSON result, following NextToken; and the number of pages."""
    rows: list[list[dict[str, Any]]] = []
    pages = 0
    token: str | None = None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = client.get_statement_result(Id=statement_id, **kwargs)
        pages += 1
        rows.extend(page["Records"])
        token = page.get("NextToken")
        if not token:
            return rows, pages


def error_code(exc: pytest.ExceptionInfo[Any]) -> str:
    return str(exc.value.response["Error"]["Code"])


# -- typing -------------------------------------------------------------------------


def test_every_type_is_typed_as_redshift_types_it(client: Any, db: psycopg.Connection[Any]) -> None:
    db.execute(
        "CREATE TABLE typed (si SMALLINT, i INTEGER NOT NULL, bi BIGINT, r REAL,"
        " dp DOUBLE PRECISION, b BOOLEAN, amount DECIMAL(12,2), name VARCHAR(64),"
        " day DATE, at TIMESTAMP)"
    )
    db.execute(
        "INSERT INTO typed VALUES (-3, 2147483647, 9007199254740993, 1.5, 2.25, true, 12.50,"
        " 'café, \"quoted\"', '2024-01-31', '2024-01-31 23:59:59'),"
        " (NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
    )
    described = run(client, "SELECT * FROM typed ORDER BY i DESC")
    assert described["Status"] == "FINISHED", described
    assert described["HasResultSet"] is True
    assert described["ResultRows"] == 2
    page = client.get_statement_result(Id=described["Id"])
    assert page["TotalNumRows"] == 2
    assert page["Records"][0] == [
        {"longValue": -3},
        {"longValue": 2147483647},
        {"longValue": 9007199254740993},
        {"doubleValue": 1.5},
        {"doubleValue": 2.25},
        {"booleanValue": True},
        {"stringValue": "12.50"},
        {"stringValue": 'café, "quoted"'},
        {"stringValue": "2024-01-31"},
        {"stringValue": "2024-01-31 23:59:59"},
    ]
    assert page["Records"][1] == [{"isNull": True}, {"longValue": 0}] + [{"isNull": True}] * 8
    meta = page["ColumnMetadata"]
    assert [m["typeName"] for m in meta] == [
        "int2",
        "int4",
        "int8",
        "float4",
        "float8",
        "bool",
        "numeric",
        "varchar",
        "date",
        "timestamp",
    ]
    assert [m["name"] for m in meta] == [
        "si",
        "i",
        "bi",
        "r",
        "dp",
        "b",
        "amount",
        "name",
        "day",
        "at",
    ]
    amount = meta[6]
    assert (amount["precision"], amount["scale"], amount["isSigned"]) == (12, 2, True)
    assert (meta[7]["precision"], meta[7]["isCaseSensitive"]) == (64, True)
    assert {(m["schemaName"], m["tableName"]) for m in meta} == {("public", "typed")}
    assert [m["nullable"] for m in meta[:2]] == [1, 0]


def test_computed_columns_and_other_types(client: Any) -> None:
    described = run(
        client,
        "SELECT 'x'::char(3) AS c, 'long text'::text AS t, "
        "'2024-01-31 23:59:59.5+02'::timestamptz AS tz, 1.0::numeric / 8 AS q, "
        "'\\x00ff'::bytea AS raw",
    )
    page = client.get_statement_result(Id=described["Id"])
    assert page["Records"] == [
        [
            {"stringValue": "x  "},
            {"stringValue": "long text"},
            {"stringValue": "2024-01-31 21:59:59.5+00"},
            {"stringValue": "0.12500000000000000000"},
            {"blobValue": b"\x00\xff"},
        ]
    ]
    assert [m["typeName"] for m in page["ColumnMetadata"]] == [
        "bpchar",
        "text",
        "timestamptz",
        "numeric",
        "varbyte",
    ]
    assert {m["tableName"] for m in page["ColumnMetadata"]} == {""}


# -- paging -------------------------------------------------------------------------


def test_a_thousand_rows_cross_many_pages_unchanged(
    client: Any, db: psycopg.Connection[Any]
) -> None:
    db.execute("CREATE TABLE many (id BIGINT, amount DECIMAL(12,2), label VARCHAR(16))")
    db.execute(
        "INSERT INTO many SELECT g, g * 1.25 - 300, 'row ' || g FROM generate_series(1, 1000) g"
    )
    expected = db.execute("SELECT id, amount, label FROM many ORDER BY id").fetchall()
    described = run(client, "SELECT id, amount, label FROM many ORDER BY id")
    rows, pages = records(client, described["Id"])
    assert pages == -(-1000 // PAGE_SIZE)
    got = [(r[0]["longValue"], Decimal(r[1]["stringValue"]), r[2]["stringValue"]) for r in rows]
    assert got == expected
    assert rows[0][1] == {"stringValue": "-298.75"}

    paginated = [
        record
        for page in client.get_paginator("get_statement_result").paginate(Id=described["Id"])
        for record in page["Records"]
    ]
    assert paginated == rows


def test_bad_next_token_is_a_validation_error(client: Any) -> None:
    described = run(client, "SELECT generate_series(1, 20) AS n")
    first = client.get_statement_result(Id=described["Id"])
    other = run(client, "SELECT generate_series(1, 20) AS n")
    for token in ("garbage", "e30=", first["NextToken"][:-4]):
        with pytest.raises(client.exceptions.ValidationException):
            client.get_statement_result(Id=described["Id"], NextToken=token)
    # A token belongs to its own statement.
    with pytest.raises(client.exceptions.ValidationException):
        client.get_statement_result(Id=other["Id"], NextToken=first["NextToken"])


# -- parameters ---------------------------------------------------------------------


def test_parameters_are_bound_never_spliced(client: Any, db: psycopg.Connection[Any]) -> None:
    db.execute("CREATE TABLE people (id INTEGER, name VARCHAR(64))")
    db.execute("INSERT INTO people VALUES (1, 'ann'), (2, 'bob')")
    hostile = "x'; DROP TABLE people; --"
    described = run(
        client,
        "SELECT :n::int + 1 AS n, :s AS s, ':n' AS literal, 5::text AS cast, '50%' AS pct,"
        " (SELECT name FROM people WHERE id = :id) AS who",
        Parameters=[
            {"name": "n", "value": "41"},
            {"name": "s", "value": hostile},
            {"name": "id", "value": "2"},
        ],
    )
    assert described["Status"] == "FINISHED", described
    assert described["QueryParameters"][0] == {"name": "n", "value": "41"}
    page = client.get_statement_result(Id=described["Id"])
    assert page["Records"] == [
        [
            {"longValue": 42},
            {"stringValue": hostile},
            {"stringValue": ":n"},
            {"stringValue": "5"},
            {"stringValue": "50%"},
            {"stringValue": "bob"},
        ]
    ]
    assert db.execute("SELECT count(*) FROM people").fetchone() == (2,)


def test_a_placeholder_without_value_is_rejected(client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException) as exc:
        client.execute_statement(
            Sql="SELECT :a, :b",
            Parameters=[{"name": "a", "value": "1"}],
            Database=DATABASE,
            WorkgroupName="local-wg",
        )
    assert ":b" in str(exc.value)


# -- failures -----------------------------------------------------------------------


def test_an_sql_error_fails_the_statement_with_the_database_message(client: Any) -> None:
    described = run(client, "SELECT * FROM no_such_table")
    assert described["Status"] == "FAILED"
    assert described["Error"] == 'ERROR: relation "no_such_table" does not exist'
    assert described["HasResultSet"] is False
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_statement_result(Id=described["Id"])


def test_an_unknown_database_fails_the_statement(client: Any) -> None:
    described = run(client, "SELECT 1", Database="no_such_database")
    assert described["Status"] == "FAILED"
    assert "no_such_database" in described["Error"]


def test_unknown_statement_ids_are_not_found(client: Any) -> None:
    missing = "00000000-0000-4000-8000-000000000000"
    calls = (
        client.describe_statement,
        client.get_statement_result,
        client.get_statement_result_v2,
        client.cancel_statement,
    )
    for call in calls:
        with pytest.raises(client.exceptions.ResourceNotFoundException) as exc:
            call(Id=missing)
        assert exc.value.response["ResourceId"] == missing


def test_malformed_requests_are_validation_errors(server: DataApiServer, client: Any) -> None:
    with pytest.raises(client.exceptions.ValidationException) as exc:
        client.execute_statement(Sql="SELECT 1", WorkgroupName="local-wg", ResultFormat="XML")
    assert "resultFormat" in str(exc.value)
    with pytest.raises(client.exceptions.ValidationException):
        client.describe_statement(Id="not-a-statement-id")
    with pytest.raises(client.exceptions.ValidationException):
        client.execute_statement(Sql="SELECT 1", Database=DATABASE)  # no cluster or workgroup
    with pytest.raises(client.exceptions.ValidationException):
        client.execute_statement(Sql="SELECT 1", ClusterIdentifier="c", WorkgroupName="wg-1")

    unchecked = _client(server.endpoint_url, parameter_validation=False)
    with pytest.raises(unchecked.exceptions.ValidationException) as exc:
        unchecked.execute_statement(Database=DATABASE, WorkgroupName="local-wg")
    assert "Value null at 'sql'" in str(exc.value)
    with pytest.raises(unchecked.exceptions.ValidationException):
        unchecked.execute_statement(Sql=["SELECT 1"], WorkgroupName="local-wg")
    with pytest.raises(unchecked.exceptions.ValidationException):
        unchecked.batch_execute_statement(Sqls=[], WorkgroupName="local-wg")


def _post(server: DataApiServer, body: bytes, target: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target:
        headers["X-Amz-Target"] = target
    request = urllib.request.Request(server.endpoint_url + "/", data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_raw_protocol_errors(server: DataApiServer) -> None:
    status, body = _post(server, b"{}", None)
    assert (status, body["__type"]) == (400, "UnknownOperationException")
    status, body = _post(server, b"{not json", "RedshiftData.DescribeStatement")
    assert (status, body["__type"]) == (400, "SerializationException")
    status, body = _post(server, b"{}", "RedshiftData.DescribeStatement")
    assert (status, body["__type"]) == (400, "ValidationException")
    assert "Value null at 'id'" in body["message"]


# -- batches ------------------------------------------------------------------------


def test_a_batch_is_one_transaction(client: Any, db: psycopg.Connection[Any]) -> None:
    db.execute("CREATE TABLE ledger (id INTEGER PRIMARY KEY, amount DECIMAL(12,2))")
    out = client.batch_execute_statement(
        Sqls=[
            "INSERT INTO ledger VALUES (1, 10.00)",
            "INSERT INTO ledger VALUES (1, 20.00)",  # duplicate key
            "INSERT INTO ledger VALUES (3, 30.00)",
        ],
        Database=DATABASE,
        WorkgroupName="local-wg",
    )
    described = wait(client, out["Id"])
    assert described["Status"] == "FAILED"
    assert "duplicate key value violates unique constraint" in described["Error"]
    subs = described["SubStatements"]
    assert [s["Id"] for s in subs] == [f"{out['Id']}:{n}" for n in (1, 2, 3)]
    assert [s["Status"] for s in subs] == ["FINISHED", "FAILED", "ABORTED"]
    assert db.execute("SELECT count(*) FROM ledger").fetchone() == (0,)

    out = client.batch_execute_statement(
        Sqls=[
            "INSERT INTO ledger VALUES (1, 10.00), (2, 20.50)",
            "UPDATE ledger SET amount = amount + :bonus WHERE id = 2",
            "SELECT id, amount FROM ledger ORDER BY id",
        ],
        Parameters=[{"name": "bonus", "value": "1.25"}],
        Database=DATABASE,
        WorkgroupName="local-wg",
    )
    described = wait(client, out["Id"])
    assert described["Status"] == "FINISHED", described
    subs = described["SubStatements"]
    assert [s["Status"] for s in subs] == ["FINISHED"] * 3
    assert [s["HasResultSet"] for s in subs] == [False, False, True]
    assert [s["ResultRows"] for s in subs] == [2, 1, 2]
    assert subs[2]["QueryString"] == "SELECT id, amount FROM ledger ORDER BY id"
    page = client.get_statement_result(Id=f"{out['Id']}:3")
    assert page["Records"] == [
        [{"longValue": 1}, {"stringValue": "10.00"}],
        [{"longValue": 2}, {"stringValue": "21.75"}],
    ]
    one = client.describe_statement(Id=f"{out['Id']}:2")
    assert (one["Id"], one["Status"], one["ResultRows"]) == (f"{out['Id']}:2", "FINISHED", 1)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_statement_result(Id=f"{out['Id']}:1")  # no result set
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.describe_statement(Id=f"{out['Id']}:9")


# -- CSV ----------------------------------------------------------------------------


def test_csv_results_through_v2(client: Any) -> None:
    described = run(
        client,
        "SELECT g AS id, CASE WHEN g = 2 THEN NULL ELSE 'v,' || g END AS label"
        " FROM generate_series(1, 10) g ORDER BY g",
        ResultFormat="CSV",
    )
    assert described["ResultFormat"] == "CSV"
    text = ""
    token: str | None = None
    pages = 0
    while True:
        page = client.get_statement_result_v2(
            Id=described["Id"], **({"NextToken": token} if token else {})
        )
        pages += 1
        assert page["ResultFormat"] == "CSV"
        assert page["TotalNumRows"] == 10
        assert [m["typeName"] for m in page["ColumnMetadata"]] == ["int4", "text"]
        text += "".join(record["CSVRecords"] for record in page["Records"])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 2
    lines = text.splitlines()
    assert lines[:4] == ["id,label", '1,"v,1"', "2,", '3,"v,3"']
    assert len(lines) == 11
    with pytest.raises(client.exceptions.ValidationException):
        client.get_statement_result(Id=described["Id"])
    json_statement = run(client, "SELECT 1 AS one")
    with pytest.raises(client.exceptions.ValidationException):
        client.get_statement_result_v2(Id=json_statement["Id"])


# -- lifecycle ----------------------------------------------------------------------


def test_execution_is_asynchronous_and_described(client: Any, db: psycopg.Connection[Any]) -> None:
    started = time.monotonic()
    out = client.execute_statement(
        Sql="SELECT pg_sleep(0.6), 1 AS one",
        Database=DATABASE,
        WorkgroupName="local-wg",
        StatementName="slow-one",
    )
    assert time.monotonic() - started < 0.5
    assert out["WorkgroupName"] == "local-wg"
    assert out["Database"] == DATABASE
    assert "ClusterIdentifier" not in out
    assert client.describe_statement(Id=out["Id"])["Status"] in ("SUBMITTED", "PICKED", "STARTED")
    described = wait(client, out["Id"])
    assert described["Status"] == "FINISHED"
    assert described["Duration"] >= 500_000_000  # nanoseconds
    assert described["QueryString"] == "SELECT pg_sleep(0.6), 1 AS one"
    assert described["ResultSize"] > 0
    assert described["UpdatedAt"] >= described["CreatedAt"]

    listed = client.list_statements(StatementName="slow-")["Statements"]
    assert [s["Id"] for s in listed] == [out["Id"]]
    assert listed[0]["Status"] == "FINISHED"

    db.execute("CREATE TABLE counted (n INTEGER)")
    inserted = run(client, "INSERT INTO counted SELECT generate_series(1, 5)")
    assert (inserted["HasResultSet"], inserted["ResultRows"]) == (False, 5)


def test_cancel_aborts_a_running_query_quickly(client: Any, db: psycopg.Connection[Any]) -> None:
    out = client.execute_statement(
        Sql="SELECT pg_sleep(30)", Database=DATABASE, WorkgroupName="local-wg"
    )
    deadline = time.monotonic() + 10
    while client.describe_statement(Id=out["Id"])["Status"] != "STARTED":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.2)  # let the query reach the server
    started = time.monotonic()
    assert client.cancel_statement(Id=out["Id"])["Status"] is True
    described = wait(client, out["Id"], timeout=5)
    assert described["Status"] == "ABORTED"
    assert time.monotonic() - started < 3
    with pytest.raises(client.exceptions.ValidationException):
        client.cancel_statement(Id=out["Id"])
    running = db.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"
    ).fetchone()
    assert running == (0,)


def test_cancel_rolls_back_a_batch(client: Any, db: psycopg.Connection[Any]) -> None:
    db.execute("CREATE TABLE cancelled (n INTEGER)")
    out = client.batch_execute_statement(
        Sqls=["INSERT INTO cancelled VALUES (1)", "SELECT pg_sleep(30)"],
        Database=DATABASE,
        WorkgroupName="local-wg",
    )
    deadline = time.monotonic() + 10
    while True:
        subs = client.describe_statement(Id=out["Id"]).get("SubStatements", [])
        if subs and subs[1]["Status"] == "STARTED":
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    client.cancel_statement(Id=out["Id"])
    described = wait(client, out["Id"], timeout=5)
    assert described["Status"] == "ABORTED"
    assert described["SubStatements"][1]["Status"] == "ABORTED"
    assert db.execute("SELECT count(*) FROM cancelled").fetchone() == (0,)


def test_many_statements_in_flight_from_many_threads(client: Any) -> None:
    def one(n: int) -> int:
        described = run(
            client,
            "SELECT sum(g)::bigint AS total FROM generate_series(1, :n::int) g",
            Parameters=[{"name": "n", "value": str(n)}],
        )
        assert described["Status"] == "FINISHED", described
        page = client.get_statement_result(Id=described["Id"])
        return int(page["Records"][0][0]["longValue"])

    numbers = list(range(1, 49))
    with ThreadPoolExecutor(max_workers=16) as pool:
        totals = list(pool.map(one, numbers))
    assert totals == [n * (n + 1) // 2 for n in numbers]


def test_old_statements_are_forgotten(postgres: str) -> None:
    with DataApiServer(postgres, page_size=PAGE_SIZE, max_statements=3) as small:
        local = _client(small.endpoint_url)
        ids = []
        for n in range(5):
            out = local.execute_statement(Sql=f"SELECT {n}", WorkgroupName="local-wg")
            wait(local, out["Id"])
            ids.append(out["Id"])
        with pytest.raises(local.exceptions.ResourceNotFoundException):
            local.describe_statement(Id=ids[0])
        assert local.describe_statement(Id=ids[-1])["Status"] == "FINISHED"
        assert len(local.list_statements()["Statements"]) <= 4


# -- command line -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_command_line_serves_until_sigterm(postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = _free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack.dataapi",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--conninfo",
            make_conninfo(postgres, dbname=DATABASE),
            "--page-size",
            "3",
        ],
        cwd=REPO,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert process.poll() is None, "the server exited early"
                assert time.monotonic() < deadline, "the server never listened"
                time.sleep(0.05)
        monkeypatch.setenv("AWS_ENDPOINT_URL_REDSHIFT_DATA", f"http://127.0.0.1:{port}")
        local = _client(None)
        out = local.execute_statement(Sql="SELECT generate_series(1, 5) AS n", WorkgroupName="wg1")
        described = wait(local, out["Id"])
        assert described["Database"] == DATABASE  # the conninfo's dbname by default
        rows, pages = records(local, out["Id"])
        assert ([r[0]["longValue"] for r in rows], pages) == ([1, 2, 3, 4, 5], 2)
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=15)
    assert code == 0


def test_stop_releases_the_port_and_idle_threads(postgres: str) -> None:
    before = threading.active_count()
    with DataApiServer(postgres) as temporary:
        port = temporary.port
        wait(_client(temporary.endpoint_url), _start(temporary))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # free again
    time.sleep(0.3)
    assert threading.active_count() <= before + 1


def _start(server: DataApiServer) -> str:
    out = _client(server.endpoint_url).execute_statement(Sql="SELECT 1", WorkgroupName="wg1")
    return str(out["Id"])


# -- shapes AWS leaves open, quotas AWS documents -------------------------------------

SHAPE_SQL = (
    "SELECT g AS id,"
    " CASE WHEN g % 3 = 0 THEN NULL ELSE g * 1.5 END AS amount,"
    " CASE g % 4 WHEN 0 THEN '' WHEN 1 THEN NULL ELSE 'x' || g END AS label"
    " FROM generate_series(1, 10) g ORDER BY g"
)


def _csv_pages(local: Any, statement_id: str) -> list[str]:
    pages: list[str] = []
    token: str | None = None
    while True:
        page = local.get_statement_result_v2(
            Id=statement_id, **({"NextToken": token} if token else {})
        )
        pages.append("".join(record["CSVRecords"] for record in page["Records"]))
        token = page.get("NextToken")
        if not token:
            return pages


@pytest.mark.parametrize("csv_header", ["first", "every", "none"])
@pytest.mark.parametrize("csv_null", ["empty", "quoted"])
def test_csv_page_shapes(postgres: str, csv_header: str, csv_null: str) -> None:
    with DataApiServer(
        postgres, page_size=PAGE_SIZE, csv_header=csv_header, csv_null=csv_null
    ) as shaped:
        local = _client(shaped.endpoint_url)
        described = run(local, SHAPE_SQL, ResultFormat="CSV")
        pages = _csv_pages(local, described["Id"])
    assert len(pages) == 2
    headed = [page.startswith("id,amount,label\n") for page in pages]
    assert (
        headed
        == {"first": [True, False], "every": [True, True], "none": [False, False]}[csv_header]
    )
    lines = [line for page in pages for line in page.splitlines() if line != "id,amount,label"]
    null = "" if csv_null == "empty" else '""'
    assert lines[:4] == [f"1,1.5,{null}", "2,3.0,x2", f"3,{null},x3", '4,6.0,""']
    assert len(lines) == 10


def test_csv_shape_settings_are_checked(postgres: str) -> None:
    with pytest.raises(ValueError, match="csv_header"):
        DataApiServer(postgres, csv_header="sometimes")
    with pytest.raises(ValueError, match="csv_null"):
        DataApiServer(postgres, csv_null="NULL")


def test_active_statements_beyond_the_quota_are_refused(postgres: str) -> None:
    assert DataApiServer.__init__.__kwdefaults__["max_active_statements"] == 200  # AWS's quota
    with DataApiServer(postgres, max_active_statements=2) as small:
        local = _client(small.endpoint_url)
        target = {"Database": DATABASE, "WorkgroupName": "busy-wg"}
        held = [
            local.execute_statement(Sql="SELECT pg_sleep(60)", ClientToken=f"held-{n}", **target)
            for n in range(2)
        ]
        with pytest.raises(local.exceptions.ActiveStatementsExceededException) as refused:
            local.execute_statement(Sql="SELECT 1", **target)
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(local.exceptions.ActiveStatementsExceededException):
            local.batch_execute_statement(Sqls=["SELECT 1", "SELECT 2"], **target)
        # A resent request of an accepted statement is that statement, not one more.
        again = local.execute_statement(Sql="SELECT pg_sleep(60)", ClientToken="held-0", **target)
        assert again["Id"] == held[0]["Id"]
        # The quota is per cluster or workgroup.
        other = local.execute_statement(Sql="SELECT 1", Database=DATABASE, WorkgroupName="idle-wg")
        assert wait(local, other["Id"])["Status"] == "FINISHED"
        local.cancel_statement(Id=held[0]["Id"])
        assert wait(local, held[0]["Id"])["Status"] == "ABORTED"
        freed = local.execute_statement(Sql="SELECT 1", **target)
        assert wait(local, freed["Id"])["Status"] == "FINISHED"
        local.cancel_statement(Id=held[1]["Id"])


def test_command_line_settings_from_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from devstack.dataapi.__main__ import _parse

    base = ["--port", "0", "--conninfo", "dbname=dev"]
    args = _parse(base)
    assert (args.csv_header, args.csv_null, args.max_active_statements) == ("first", "empty", 200)
    monkeypatch.setenv("CONTABYX_LOCAL_CSV_HEADER", "every")
    monkeypatch.setenv("CONTABYX_LOCAL_CSV_NULL", "quoted")
    monkeypatch.setenv("CONTABYX_LOCAL_MAX_ACTIVE_STATEMENTS", "3")
    args = _parse(base)
    assert (args.csv_header, args.csv_null, args.max_active_statements) == ("every", "quoted", 3)
    args = _parse([*base, "--csv-header", "none", "--csv-null", "empty"])
    assert (args.csv_header, args.csv_null) == ("none", "empty")
    with pytest.raises(SystemExit):
        _parse([*base, "--csv-header", "sometimes"])

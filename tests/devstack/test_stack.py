"""The local stack as a user runs it: `contabyx-local up/status/down` and plain boto3."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from dotenv import dotenv_values

from devstack import dynamodb_local
from devstack.paths import REPO_ROOT, python_env
from devstack.stack import Stack
from tests.conftest import TEST_PAGE_SIZE, TEST_STACK_DIR

# Starts and stops whole stacks: not in make unit.
pytestmark = pytest.mark.integration

KEYS = [
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_REDSHIFT_DATA",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "DATABASE",
    "CLUSTER",
    "DBUSER",
    "REDSHIFT_HOST",
    "REDSHIFT_PORT",
]
_LISTEN = "0A"
_LOOPBACK_HEX = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def cli(*args: str, state_dir: Path = TEST_STACK_DIR) -> subprocess.CompletedProcess[str]:
    """`contabyx-local ARGS --state-dir DIR`, run the way a user runs it."""
    command, *rest = args
    return subprocess.run(
        [sys.executable, "-m", "devstack", command, "--state-dir", str(state_dir), *rest],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=python_env(),
        timeout=300,
        check=False,
    )


def dotenv_line(text: str, key: str) -> str:
    """The value of ``key`` in dotenv lines."""
    return dict(line.split("=", 1) for line in text.splitlines())[key]


def _recorded_pids(state_dir: Path) -> dict[str, int]:
    state = json.loads((state_dir / "state.json").read_text())
    pids = {s["name"]: s["pid"] for s in state["services"]}
    pids["warehouse"] = state["warehouse"]["pid"]
    return pids


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _listening_inodes() -> dict[str, str]:
    """inode -> local address (hex) of every listening TCP socket."""
    found: dict[str, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:]
        for line in lines:
            fields = line.split()
            address, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN:
                found[inode] = address.split(":")[0]
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def test_up_twice_prints_the_same_lines_and_writes_the_env_file(
    local_stack: Any, tmp_path: Path
) -> None:
    env_file = tmp_path / "x.env"
    first = cli("up", "--page-size", str(TEST_PAGE_SIZE), "--env-file", str(env_file))
    second = cli("up", "--page-size", str(TEST_PAGE_SIZE))
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    assert env_file.read_text() == first.stdout
    lines = first.stdout.splitlines()
    assert [line.split("=", 1)[0] for line in lines] == KEYS
    assert dict(line.split("=", 1) for line in lines) == local_stack.env
    assert "already running" in second.stderr
    assert local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"].startswith("http://127.0.0.1:")
    assert local_stack.env["REDSHIFT_HOST"] == "127.0.0.1"
    env = cli("env")
    assert env.returncode == 0 and env.stdout == first.stdout


def test_plain_boto3_clients_configured_only_by_the_env_file(
    local_stack: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "x.env"
    done = cli("up", "--page-size", str(TEST_PAGE_SIZE), "--env-file", str(env_file))
    assert done.returncode == 0, done.stderr
    loaded = {k: v for k, v in dotenv_values(env_file).items() if v is not None}
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)
    # No profile or config file of the machine may help.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    for key, value in loaded.items():
        monkeypatch.setenv(key, value)
    session = boto3.Session()

    data = session.client("redshift-data")
    table = f"public.stack_{uuid.uuid4().hex[:8]}"

    def run(sql: str) -> str:
        started = data.execute_statement(
            ClusterIdentifier=loaded["CLUSTER"],
            Database=loaded["DATABASE"],
            DbUser=loaded["DBUSER"],
            Sql=sql,
        )
        deadline = time.monotonic() + 30
        while (status := data.describe_statement(Id=started["Id"]))["Status"] not in (
            "FINISHED",
            "FAILED",
            "ABORTED",
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert status["Status"] == "FINISHED", status.get("Error")
        return str(started["Id"])

    run(f"CREATE TABLE {table} (id BIGINT, name VARCHAR(20), amount DECIMAL(12,2), ok BOOLEAN)")
    run(
        f"INSERT INTO {table} SELECT i, 'n' || i, i + 0.5, i % 3 = 0"
        " FROM generate_series(1, 230) AS i"
    )
    statement = run(f"SELECT id, name, amount, ok FROM {table} ORDER BY id")
    records: list[Any] = []
    pages = 0
    kwargs: dict[str, Any] = {"Id": statement}
    while True:
        page = data.get_statement_result(**kwargs)
        pages += 1
        records.extend(page["Records"])
        if "NextToken" not in page:
            break
        kwargs["NextToken"] = page["NextToken"]
    assert pages == 3  # 230 rows at 100 a page
    assert len(records) == 230
    assert records[0] == [
        {"longValue": 1},
        {"stringValue": "n1"},
        {"stringValue": "1.50"},
        {"booleanValue": False},
    ]
    assert [r[0]["longValue"] for r in records] == list(range(1, 231))
    assert Decimal(records[-1][2]["stringValue"]) == Decimal("230.50")
    run(f"DROP TABLE {table}")

    dynamodb = session.client("dynamodb")
    name = f"stack-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "clientid", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "clientid", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        dynamodb.get_waiter("table_exists").wait(TableName=name)
        item = {"clientid": {"N": "9223372036854775807"}, "balance": {"N": "-12.5"}}
        dynamodb.put_item(TableName=name, Item=item)
        got = dynamodb.get_item(
            TableName=name, Key={"clientid": item["clientid"]}, ConsistentRead=True
        )
        assert got["Item"] == item
        assert name in dynamodb.list_tables()["TableNames"]
    finally:
        dynamodb.delete_table(TableName=name)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_every_listening_socket_of_the_stack_is_on_loopback(local_stack: Any) -> None:
    listening = _listening_inodes()
    pids = _recorded_pids(local_stack.stack.state_dir)
    for name, pid in pids.items():
        addresses = [listening[i] for i in _socket_inodes(pid) if i in listening]
        if name == "warehouse":
            assert addresses == [], "the warehouse must listen on its unix socket only"
        else:
            assert addresses, f"{name} listens nowhere?"
            assert set(addresses) <= _LOOPBACK_HEX, (name, addresses)
    port = int(local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"].rsplit(":", 1)[1])
    assert f"{port:04X}" in {
        line.split()[1].split(":")[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[1].split(":")[0] == "0100007F" and line.split()[3] == _LISTEN
    }


@pytest.mark.skipif(not Path("/proc").exists(), reason="needs Linux /proc")
def test_up_repair_status_down_in_a_separate_state_dir_leaves_no_process(tmp_path: Path) -> None:
    state_dir = tmp_path / "stack"
    up = cli("up", "--page-size", "7", state_dir=state_dir)
    pids: dict[str, int] = {}
    try:
        assert up.returncode == 0, up.stderr
        pids = _recorded_pids(state_dir)
        assert all(_alive(pid) for pid in pids.values())

        # A dead server is started again on its port; the healthy ones are kept; `up`
        # says which it restarted, and that DynamoDB Local's tables are gone.
        ddb = boto3.client(
            "dynamodb",
            endpoint_url=dotenv_line(up.stdout, "AWS_ENDPOINT_URL_DYNAMODB"),
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        ddb.create_table(
            TableName="before_restart",
            KeySchema=[{"AttributeName": "clientid", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "clientid", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )
        os.kill(pids["wire"], signal.SIGKILL)
        os.kill(pids["dynamodb"], signal.SIGKILL)
        again = cli("up", state_dir=state_dir)
        assert again.returncode == 0, again.stderr
        assert again.stdout == up.stdout
        assert "already running" not in again.stderr
        assert "contabyx-local: restarted wire (it had stopped)" in again.stderr
        assert (
            "contabyx-local: restarted dynamodb (it had stopped); DynamoDB Local keeps its "
            "tables in memory, so they are gone: create them again (contabyx-etl create-tables)"
        ) in again.stderr
        assert "restarted dataapi" not in again.stderr
        assert ddb.list_tables()["TableNames"] == []
        repaired = _recorded_pids(state_dir)
        for name in ("wire", "dynamodb"):
            assert repaired[name] != pids[name] and _alive(repaired[name])
        assert {k: v for k, v in repaired.items() if k not in ("wire", "dynamodb")} == {
            k: v for k, v in pids.items() if k not in ("wire", "dynamodb")
        }
        # Another page size restarts the Data API only.
        resized = cli("up", "--page-size", "9", state_dir=state_dir)
        assert resized.returncode == 0, resized.stderr
        assert resized.stdout == up.stdout
        assert "restarted dataapi (its arguments changed)" in resized.stderr
        after = _recorded_pids(state_dir)
        assert after["dataapi"] != repaired["dataapi"] and after["wire"] == repaired["wire"]
        assert json.loads((state_dir / "state.json").read_text())["page_size"] == 9
        pids = {**pids, **after}

        seeded = cli(
            "seed", "--clients", "30", "--seed", "2", "--years", "2019-2020", state_dir=state_dir
        )
        assert seeded.returncode == 0, seeded.stderr
        assert seeded.stdout.startswith("seeded 30 clients, ")
        with psycopg.connect(Stack(state_dir).warehouse_conninfo()) as conn:
            row = conn.execute(
                "SELECT count(DISTINCT clientid), min(time), max(time) FROM contabyx.transactions"
            ).fetchone()
        assert row is not None and row[0] == 30
        assert row[1].year == 2019 and row[2].year == 2020

        status = cli("status", state_dir=state_dir)
        assert status.returncode == 0, status.stdout + status.stderr
        for name, pid in after.items():
            assert any(
                line.split()[:2] == [name, str(pid)] and " up " in line
                for line in status.stdout.splitlines()
            ), status.stdout
        assert "password" not in status.stdout.lower()
    finally:
        down = cli("down", state_dir=state_dir)
    assert down.returncode == 0, down.stderr
    assert not any(_alive(pid) for pid in pids.values())
    leftovers = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if str(state_dir) in cmdline and _alive(int(proc.name)):
                leftovers.append(cmdline)
    assert leftovers == []
    status = cli("status", state_dir=state_dir)
    assert status.returncode == 3
    assert " up " not in status.stdout


def test_a_dynamodb_local_copy_with_another_jar_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / dynamodb_local.LIB).mkdir()
    (tmp_path / dynamodb_local.JAR).write_bytes(b"not the jar")
    monkeypatch.setenv("DYNAMODB_LOCAL_DIR", str(tmp_path))
    with pytest.raises(dynamodb_local.DynamoDBLocalError, match="SHA-256"):
        dynamodb_local.ensure_dynamodb_local()
    (tmp_path / dynamodb_local.JAR).unlink()
    with pytest.raises(dynamodb_local.DynamoDBLocalError, match="does not hold"):
        dynamodb_local.ensure_dynamodb_local()


def test_the_fetched_copy_is_verified_and_usable_through_dynamodb_local_dir(
    local_stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DYNAMODB_LOCAL_DIR", raising=False)
    home = dynamodb_local.ensure_dynamodb_local()
    assert dynamodb_local.sha256_of(home / dynamodb_local.JAR) == dynamodb_local.JAR_SHA256
    monkeypatch.setenv("DYNAMODB_LOCAL_DIR", str(home))
    assert dynamodb_local.ensure_dynamodb_local() == home


# -- the stack is not a shell for local users (issue 10, item 8) ----------------------


def _data_api(env: dict[str, str], sql: str) -> dict[str, Any]:
    """Run ``sql`` through the stack's Data API; the final DescribeStatement."""
    data = boto3.client("redshift-data")
    started = data.execute_statement(
        ClusterIdentifier=env["CLUSTER"], Database=env["DATABASE"], DbUser=env["DBUSER"], Sql=sql
    )
    deadline = time.monotonic() + 30
    while True:
        described: dict[str, Any] = data.describe_statement(Id=started["Id"])
        if described["Status"] in ("FINISHED", "FAILED", "ABORTED"):
            return described
        assert time.monotonic() < deadline, described
        time.sleep(0.02)


def test_the_data_api_cannot_run_programs_or_touch_server_files(local_stack: Any) -> None:
    # In /tmp, so that the server's OS user could create it if the COPY ran.
    marker = Path(f"/tmp/contabyx-copy-{uuid.uuid4().hex[:8]}")
    try:
        copy = _data_api(local_stack.env, f"COPY (SELECT 1) TO PROGRAM 'touch {marker}'")
        assert copy["Status"] == "FAILED"
        assert "permission denied" in copy["Error"] or "must be superuser" in copy["Error"]
        assert not marker.exists()
        for sql in (
            "SELECT pg_read_file('postgresql.conf')",
            f"COPY (SELECT 1) TO '{marker}'",
            "CREATE ROLE intruder SUPERUSER",
            "SET ROLE postgres",
        ):
            assert _data_api(local_stack.env, sql)["Status"] == "FAILED", sql
        assert not marker.exists()
    finally:
        marker.unlink(missing_ok=True)


def test_the_data_api_role_has_no_server_rights(local_stack: Any, warehouse: Any) -> None:
    row = warehouse.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls,"
        " pg_has_role('awsuser', 'pg_execute_server_program', 'MEMBER'),"
        " pg_has_role('awsuser', 'pg_read_server_files', 'MEMBER'),"
        " pg_has_role('awsuser', 'pg_write_server_files', 'MEMBER')"
        " FROM pg_roles WHERE rolname = 'awsuser'"
    ).fetchone()
    assert row == (False,) * 8
    # It still does what the sync and the tests ask of it.
    name = f"public.rights_{uuid.uuid4().hex[:8]}"
    for sql in (
        f"CREATE TABLE {name} (id BIGINT)",
        f"INSERT INTO {name} VALUES (1)",
        f"CREATE VIEW {name}_v AS SELECT id FROM {name}",
        f"CREATE OR REPLACE VIEW {name}_v AS SELECT id FROM {name}",
        "SELECT count(*) FROM contabyx.transactions",
        f"DROP VIEW {name}_v",
        f"DROP TABLE {name}",
    ):
        done = _data_api(local_stack.env, sql)
        assert done["Status"] == "FINISHED", (sql, done.get("Error"))


def test_logging_in_as_postgres_through_the_wire_front_gives_the_restricted_role(
    local_stack: Any,
) -> None:
    import redshift_connector

    conn = redshift_connector.connect(
        host=local_stack.env["REDSHIFT_HOST"],
        port=int(local_stack.env["REDSHIFT_PORT"]),
        database=local_stack.env["DATABASE"],
        user="postgres",
        password="anything",
        ssl=False,
    )
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT current_user, session_user")
        assert cursor.fetchone() == ["awsuser", "awsuser"]
    finally:
        conn.close()


def test_an_older_stack_s_superuser_awsuser_is_demoted_and_keeps_its_objects(
    local_stack: Any, warehouse: Any
) -> None:
    from devstack import warehouse as wh_module

    name = f"handover_{uuid.uuid4().hex[:8]}"
    # As an older stack left it: awsuser a superuser, its objects owned by postgres.
    warehouse.execute("ALTER ROLE awsuser SUPERUSER")
    warehouse.execute(f"CREATE TABLE public.{name} (id BIGINT)")
    warehouse.execute(f"CREATE VIEW public.{name}_v AS SELECT id FROM public.{name}")
    running = wh_module.running(local_stack.stack.pgdata)
    assert running is not None
    wh_module.prepare(running)
    owners = dict(
        warehouse.execute(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE (n.nspname, c.relname) IN (('public', %s), ('public', %s),"
            " ('contabyx', 'transactions'), ('contabyx', 'transactiontypes'))",
            (name, f"{name}_v"),
        ).fetchall()
    )
    assert owners == {
        name: "awsuser",
        f"{name}_v": "awsuser",
        "transactions": "postgres",
        "transactiontypes": "postgres",
    }
    demoted = warehouse.execute("SELECT rolsuper FROM pg_roles WHERE rolname = 'awsuser'")
    assert demoted.fetchone() == (False,)
    assert _data_api(local_stack.env, f"DROP VIEW public.{name}_v")["Status"] == "FINISHED"
    assert _data_api(local_stack.env, f"DROP TABLE public.{name}")["Status"] == "FINISHED"

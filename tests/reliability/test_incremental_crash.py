"""Incremental runs through the command line: a change to 1% of the clients writes
those clients only; a run killed while it writes, or while the warehouse takes its
copy, is completed exactly by the next run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

import boto3
import pytest

from devstack.faults import FaultProxy, Rule
from devstack.seed import correct_amounts
from dynamo.shape import item_size, write_units
from tests.support.expected import from_warehouse
from tests.support.synced import (
    ROOT,
    differences,
    etl,
    etl_command,
    etl_env,
    fresh_tables,
    seeded,
    sync_table,
)

CLIENTS = 1000
TABLES = ("incr_crash_ci", "incr_crash_ciby")


@pytest.fixture(scope="module")
def synced(local_stack: Any, warehouse: Any) -> Any:
    seeded(local_stack, warehouse, clients=CLIENTS, seed=43, years=(2018, 2026))
    fresh_tables(*TABLES)
    done = etl(TABLES, "run")
    assert done.returncode == 0, done.stderr
    return warehouse


@pytest.fixture(scope="module")
def conninfo(local_stack: Any) -> str:
    return str(local_stack.conninfo)


def _expire_the_killed_runs_lease() -> None:
    """A killed run's lease holds for its time to live: move its expiry to the past, as
    time would (tests/reliability/test_crash.py shows the refusal until then)."""
    client = boto3.client("dynamodb")
    key = {"pk": {"S": "lease"}, "sk": {"S": "sync"}}
    held = client.get_item(TableName=sync_table(TABLES), Key=key)["Item"]
    client.put_item(TableName=sync_table(TABLES), Item={**held, "expires": {"N": "0"}})


def _incremental(**env: str) -> dict[str, Any]:
    done = etl(TABLES, "run", "--incremental", "--json", **env)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_a_change_to_one_percent_writes_only_those_clients(synced: Any, conninfo: str) -> None:
    changed = correct_amounts(conninfo, 100)
    assert len(changed) == -(-len(from_warehouse(synced)) // 100)  # one in a hundred
    summary = _incremental()
    client = boto3.client("dynamodb")
    for table in TABLES:
        counts = summary["tables"][table]
        assert (counts["items"], counts["deleted"]) == (len(changed), 0)
        assert counts["unchanged"] == len(from_warehouse(synced)) - len(changed)
        # DynamoDB's own count of what the run wrote (ConsumedCapacity): the units of
        # the changed clients' items, and of nothing else.
        stored = [
            client.get_item(TableName=table, Key={"clientid": {"N": str(c)}})["Item"]
            for c in changed
        ]
        assert counts["write_units"] == sum(write_units(item_size(item)) for item in stored)
    assert differences(TABLES, from_warehouse(synced)) == []


def test_a_run_killed_while_writing_is_completed_by_the_next(synced: Any, conninfo: str) -> None:
    changed = correct_amounts(conninfo, 10)
    run = subprocess.Popen(
        etl_command("--log-level", "INFO", "run", "--incremental"),
        env=etl_env(TABLES, WORKERS="1"),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert run.stderr is not None
    batches = 0
    for line in run.stderr:
        batches += " wrote " in line
        if batches == 3:
            run.send_signal(signal.SIGKILL)
            break
    assert run.wait(timeout=60) == -signal.SIGKILL
    expected = from_warehouse(synced)
    assert differences(TABLES, expected), "the kill must land in the middle of the writes"
    _expire_the_killed_runs_lease()

    summary = _incremental()
    # Nothing was recorded as written: the next run writes every changed client again.
    assert summary["tables"][TABLES[0]]["items"] == len(changed)
    assert differences(TABLES, expected) == []


def test_a_run_killed_while_the_warehouse_copies_is_completed_by_the_next(
    local_stack: Any, synced: Any, conninfo: str
) -> None:
    changed = correct_amounts(conninfo, 50)
    upstream = local_stack.env["AWS_ENDPOINT_URL_REDSHIFT_DATA"]
    with FaultProxy(upstream) as proxy:
        # The copy never reports finished: the run waits in the snapshot, and is killed.
        proxy.add_rule(Rule.statement_status("STARTED", sql_contains="contabyx_sync"))
        run = subprocess.Popen(
            etl_command("run", "--incremental"),
            env=etl_env(TABLES, AWS_ENDPOINT_URL_REDSHIFT_DATA=proxy.url),
            cwd=ROOT,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not proxy.injections and time.monotonic() < deadline:
            time.sleep(0.1)
        assert proxy.injections, "the run must reach the snapshot"
        run.send_signal(signal.SIGKILL)
        assert run.wait(timeout=60) == -signal.SIGKILL
    expected = from_warehouse(synced)
    assert differences(TABLES, expected)
    _expire_the_killed_runs_lease()

    summary = _incremental()
    assert summary["tables"][TABLES[1]]["items"] == len(changed)
    assert differences(TABLES, expected) == []

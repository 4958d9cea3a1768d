"""One run at a time on any machine, and the record of every run (``SYNC_TABLE``).

Runs here call ``contabyx-etl`` directly, without ``scripts/insert.sh`` and its lock:
as two machines would, each with its own lock. The lease in DynamoDB Local is what
keeps the second run out.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any, Optional

import boto3
import pytest

from devstack.faults import FaultProxy, Rule
from dynamo.errors import LeaseLost
from dynamo.query import Insert
from dynamo.runs import Lease
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

TABLES = ("runs_ci", "runs_ciby")
SYNC = sync_table(TABLES)
LEASE_KEY = {"pk": {"S": "lease"}, "sk": {"S": "sync"}}
EXIT_FAILED, EXIT_STALE = 1, 2


@pytest.fixture(scope="module")
def expected(local_stack: Any, warehouse: Any) -> Any:
    return seeded(local_stack, warehouse, clients=150, seed=53, years=(2019, 2024))


@pytest.fixture()
def fresh(expected: Any) -> Any:
    fresh_tables(*TABLES)
    return expected


def _dynamodb() -> Any:
    return boto3.client("dynamodb")


def lease() -> Optional[dict[str, Any]]:
    return _dynamodb().get_item(TableName=SYNC, Key=LEASE_KEY, ConsistentRead=True).get("Item")


def write_lease(holder: str, host: str, pid: int, expires: float) -> None:
    """The lease as a run that took it and then died would have left it."""
    _dynamodb().put_item(
        TableName=SYNC,
        Item={
            **LEASE_KEY,
            "holder": {"S": holder},
            "host": {"S": host},
            "pid": {"N": str(pid)},
            "acquired": {"N": str(expires - 600)},
            "expires": {"N": str(expires)},
        },
    )


def write_record(run: str, status: str, started: float, ended: Optional[float]) -> None:
    item: dict[str, Any] = {
        "pk": {"S": "run"},
        "sk": {"S": run},
        "mode": {"S": "full"},
        "status": {"S": status},
        "started": {"N": str(started)},
        "tables": {"M": {}},
    }
    if ended is not None:
        item["ended"] = {"N": str(ended)}
    _dynamodb().put_item(TableName=SYNC, Item=item)


def records() -> list[dict[str, Any]]:
    """Every run record, latest first."""
    pages = (
        _dynamodb()
        .get_paginator("query")
        .paginate(
            TableName=SYNC,
            KeyConditionExpression="pk = :run",
            ExpressionAttributeValues={":run": {"S": "run"}},
            ScanIndexForward=False,
        )
    )
    return [item for page in pages for item in page["Items"]]


def count(table: str) -> int:
    return int(_dynamodb().scan(TableName=table, Select="COUNT")["Count"])


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def test_a_second_run_is_refused_while_the_first_holds_the_lease(
    local_stack: Any, fresh: Any
) -> None:
    """The first run hangs on its first statement (the Data API says it is still
    running), holding the lease; a second run, started meanwhile, is refused naming
    the first. The statement then fails: the first run's lease is released and its
    failure recorded, and the next run goes ahead."""
    with FaultProxy(local_stack.env["AWS_ENDPOINT_URL_REDSHIFT_DATA"]) as proxy:
        proxy.add_rule(Rule.statement_status("STARTED"))
        env = etl_env(TABLES, AWS_ENDPOINT_URL_REDSHIFT_DATA=proxy.url, STATEMENT_TIMEOUT="300")
        first = subprocess.Popen(
            etl_command("run"), env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
        )
        try:
            deadline = time.monotonic() + 120
            while (held := lease()) is None:
                assert first.poll() is None, "the first run ended before taking the lease"
                assert time.monotonic() < deadline, "the first run never took the lease"
                time.sleep(0.1)
            holder, host, pid = held["holder"]["S"], held["host"]["S"], held["pid"]["N"]
            assert pid == str(first.pid)

            second = etl(TABLES, "run", "--json", timeout=120)
            assert first.poll() is None, "the first run ended before the second was refused"
            assert second.returncode == EXIT_FAILED, second.stderr
            assert second.stdout == ""
            [line] = second.stderr.strip().splitlines()
            assert f"run {holder} (host {host}, pid {pid}) holds the sync's lease until " in line
            assert "wait for it to end" in line and "expires by itself" in line
        finally:
            proxy.clear_rules()
            proxy.add_rule(Rule.statement_status("FAILED", "ERROR: injected for the lease test"))
            _, errors = first.communicate(timeout=120)
    assert first.returncode == EXIT_FAILED, errors
    assert "injected for the lease test" in errors
    assert lease() is None, "a failed run releases its lease"
    [failed] = records()
    assert failed["sk"]["S"] == holder
    assert failed["status"]["S"] == "failed"
    assert "FAILED: ERROR: injected for the lease test" in failed["error"]["S"]
    assert float(failed["ended"]["N"]) >= float(failed["started"]["N"])
    assert count(TABLES[0]) == 0

    done = etl(TABLES, "run", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    assert differences(TABLES, fresh) == []
    assert lease() is None


def test_a_lease_left_by_a_dead_run_refuses_until_it_expires(fresh: Any) -> None:
    expires = time.time() + 600
    write_lease("2026-01-02T00:00:00Z-dead00", "other-host", 4242, expires)
    refused = etl(TABLES, "run", timeout=120)
    assert refused.returncode == EXIT_FAILED, refused.stderr
    assert (
        f"run 2026-01-02T00:00:00Z-dead00 (host other-host, pid 4242) holds the sync's "
        f"lease until {_when(expires)}"
    ) in refused.stderr
    assert count(TABLES[0]) == count(TABLES[1]) == 0, "a refused run writes nothing"
    assert records() == [], "a refused run leaves no record"
    assert lease() is not None and lease()["holder"]["S"] == "2026-01-02T00:00:00Z-dead00"  # type: ignore[index]

    # The same lease, its time passed: the next run takes it, and releases it at the end.
    write_lease("2026-01-02T00:00:00Z-dead00", "other-host", 4242, time.time() - 1)
    done = etl(TABLES, "run", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    assert differences(TABLES, fresh) == []
    assert lease() is None


def test_a_run_that_lost_its_lease_stops_before_advancing(local_stack: Any, fresh: Any) -> None:
    """Two leases on the real table: the first expires unrenewed, a second run takes
    it; the first's renewal then finds another holder, and its check() refuses."""
    client = _dynamodb()
    mine = Lease(client, SYNC, "2026-01-03T00:00:00Z-aaaaaa", ttl=1.5)
    mine.acquire()
    mine._stop.set()  # no renewal: as a run whose machine stalled
    mine.check()
    time.sleep(2)
    other = Lease(client, SYNC, "2026-01-03T00:00:05Z-bbbbbb", ttl=60)
    other.acquire()
    try:
        with pytest.raises(LeaseLost, match="lease expired"):
            mine.check()
        mine.renew()
        with pytest.raises(LeaseLost, match="another run took the sync's lease"):
            mine.check()
        mine.release()  # not its own any more: left alone
        assert lease()["holder"]["S"] == other.run_id  # type: ignore[index]
    finally:
        other.release()
    assert lease() is None


def test_the_library_run_checks_its_lease_before_pruning(fresh: Any) -> None:
    """``Insert.exclusive``: a run whose lease expired unrenewed does not prune; its
    record says failed with the reason, and the lease is released."""
    names = {"clients_info_table": TABLES[0], "clients_info_by_year_table": TABLES[1]}
    stale = {"clientid": {"N": "999999999"}}
    _dynamodb().put_item(TableName=TABLES[0], Item=stale)
    with Insert(**names, sync_table=SYNC) as insert:
        with pytest.raises(LeaseLost, match="lease expired"), insert.exclusive() as record:
            result = insert.clients_info()
            record.counts({result.table: result.summary()})
            assert insert.lease is not None
            insert.lease.expires = time.time() - 1  # as if no renewal had come through
            insert.prune(result)
        assert insert.lease is None
    assert _dynamodb().get_item(TableName=TABLES[0], Key=stale).get("Item") == stale
    [failed] = records()
    assert failed["sk"]["S"] == insert.run and failed["status"]["S"] == "failed"
    assert "lease expired" in failed["error"]["S"]
    assert failed["tables"]["M"][TABLES[0]]["M"]["items"]["N"] == str(len(fresh))
    assert lease() is None


def test_a_running_lease_is_renewed_until_released(fresh: Any) -> None:
    held = Lease(_dynamodb(), SYNC, "2026-01-04T00:00:00Z-cccccc", ttl=0.9)  # renewed every 0.3 s
    held.acquire()
    taken = lease()
    assert taken is not None
    time.sleep(2)  # more than twice the TTL
    held.check()
    renewed = lease()
    assert renewed is not None
    assert float(renewed["expires"]["N"]) > float(taken["expires"]["N"]) + 1
    assert renewed["acquired"] == taken["acquired"], "a renewal keeps when it was taken"
    held.release()
    assert lease() is None


def _status(*args: str) -> subprocess.CompletedProcess[str]:
    return etl(TABLES, "status", *args, timeout=120)


def test_status_says_when_the_last_run_ran_and_how_it_ended(fresh: Any) -> None:
    none = _status()
    assert none.returncode == EXIT_STALE, none.stderr
    assert "no run recorded" in none.stdout and "none recorded" in none.stdout

    done = etl(TABLES, "run", "--json", timeout=300)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    good = summary["run"]
    fine = _status()
    assert fine.returncode == 0, fine.stdout + fine.stderr
    [line] = fine.stdout.strip().splitlines()
    items = summary["tables"]["runs_ci"]["items"]
    assert line.startswith(f"{good} full succeeded ") and f"runs_ci {items}" in line
    assert items == len(fresh)

    time.sleep(1.5)
    stale = _status("--max-age", "1s")
    assert stale.returncode == EXIT_STALE, stale.stdout
    assert f"the last was {good}" in stale.stdout

    failed = etl(TABLES, "run", timeout=300, VIEWS_SCHEMA="no_such_schema")
    assert failed.returncode == EXIT_FAILED
    error = failed.stderr.strip().splitlines()[-1].removeprefix("contabyx-etl: error: ")
    shown = _status("--last", "5")
    assert shown.returncode == EXIT_FAILED, shown.stdout
    latest, earlier = shown.stdout.strip().splitlines()
    assert " full failed " in latest and latest.endswith(f"error: {error}")
    assert "no_such_schema" in latest
    assert earlier.startswith(f"{good} full succeeded ")

    as_json = _status("--json", "--last", "1")
    assert as_json.returncode == EXIT_FAILED
    out = json.loads(as_json.stdout)
    assert set(out) == {"runs", "last_success", "max_age", "exit"}
    assert out["exit"] == EXIT_FAILED and out["max_age"] == 26 * 3600
    [run] = out["runs"]
    assert set(run) == {"run", "mode", "status", "host", "started", "ended", "tables", "error"}
    assert run["status"] == "failed" and run["error"] == error and run["mode"] == "full"
    assert out["last_success"]["run"] == good
    assert out["last_success"]["tables"]["runs_ci"]["items"] == items
    assert out["last_success"]["tables"]["runs_ciby"]["items"] == items

    # A good run again, then one that is still going (it holds the lease): shown as
    # running, and the runs before it say how things stand.
    again = etl(TABLES, "run", "--json", timeout=300)
    assert again.returncode == 0, again.stderr
    now = time.time()
    write_lease("2099-01-01T00:00:00Z-live00", "other-host", 1, now + 600)
    write_record("2099-01-01T00:00:00Z-live00", "running", now - 5, None)
    going = _status("--last", "2")
    assert going.returncode == 0, going.stdout
    first_line = going.stdout.splitlines()[0]
    assert first_line.startswith("2099-01-01T00:00:00Z-live00 full running ")
    assert "so far" in first_line

    # Its lease gone without an end recorded: the run died, and that is a failure.
    _dynamodb().delete_item(TableName=SYNC, Key=LEASE_KEY)
    dead = _status("--last", "2")
    assert dead.returncode == EXIT_FAILED, dead.stdout
    assert dead.stdout.startswith("2099-01-01T00:00:00Z-live00 full abandoned ")


def test_status_counts_age_from_the_last_success(fresh: Any) -> None:
    day = 86400.0
    now = time.time()
    write_record(f"{_when(now - 3 * day)}-old000", "succeeded", now - 3 * day, now - 3 * day + 60)
    assert _status("--max-age", "2d").returncode == EXIT_STALE
    assert _status("--max-age", "4d").returncode == 0
    assert _status("--max-age", "3d").returncode == 0  # ended 3 days less a minute ago
    write_record(f"{_when(now - day)}-new000", "rejected", now - day, now - day + 60)
    assert _status("--max-age", "2d").returncode == 0, "a run that stored all but some completed"


def test_status_without_the_sync_table_says_to_create_it(expected: Any) -> None:
    done = etl(("runs_none_ci", "runs_none_ciby"), "status", timeout=120)
    assert done.returncode == EXIT_FAILED
    [line] = done.stderr.strip().splitlines()
    assert "runs_none_ci_sync does not exist: run contabyx-etl create-tables" in line

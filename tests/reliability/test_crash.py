"""Crash and re-run: a sync killed with SIGKILL in the middle of the load, then run
again once its lease expired, leaves both tables equal to the source, exactly."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import boto3

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

TABLES = ("crash_ci", "crash_ciby")


def count(table: str) -> int:
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName=table, Select="COUNT")
    return sum(page["Count"] for page in pages)


def test_a_killed_sync_is_completed_by_the_next_run(local_stack: Any, warehouse: Any) -> None:
    expected = seeded(local_stack, warehouse, clients=3000, seed=31, years=(2016, 2026))
    fresh_tables(*TABLES)
    env = etl_env(TABLES, WORKERS="2", CHUNK_CLIENTS="100")
    sync = subprocess.Popen(
        etl_command("--log-level", "INFO", "run"),
        env=env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert sync.stderr is not None
    written = 0
    for line in sync.stderr:
        if " wrote " in line:
            written += 1
            if written == 5:
                sync.send_signal(signal.SIGKILL)
                break
    assert sync.wait(timeout=60) == -signal.SIGKILL
    partial = count(TABLES[0]) + count(TABLES[1])
    assert 0 < partial < 2 * len(expected), "the kill must land in the middle of the load"
    assert differences(TABLES, expected), "a half-done sync differs from the source"

    # The killed run still holds its lease: the next one is refused, naming it, until
    # the lease expires (here: its expiry moved to the past, as time would).
    client = boto3.client("dynamodb")
    key = {"pk": {"S": "lease"}, "sk": {"S": "sync"}}
    held = client.get_item(TableName=sync_table(TABLES), Key=key)["Item"]
    assert held["pid"]["N"] == str(sync.pid)
    refused = etl(TABLES, "run", "--json")
    assert refused.returncode == 1
    assert f"run {held['holder']['S']} " in refused.stderr and "expires by itself" in refused.stderr
    client.put_item(TableName=sync_table(TABLES), Item={**held, "expires": {"N": "0"}})

    done = etl(TABLES, "run", "--json")
    assert done.returncode == 0, done.stderr
    assert differences(TABLES, expected) == []
    found = count(TABLES[0]) + count(TABLES[1])
    print(f"\ncrash: expected {2 * len(expected)} items, {partial} after the kill, {found} after")

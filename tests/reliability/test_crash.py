"""Crash and re-run: a sync killed with SIGKILL in the middle of the load, then run
again, leaves both tables equal to the source, exactly."""

from __future__ import annotations

import signal
import subprocess
from typing import Any

import boto3

from tests.support.synced import ROOT, differences, etl, etl_command, etl_env, fresh_tables, seeded

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

    done = etl(TABLES, "run", "--json")
    assert done.returncode == 0, done.stderr
    assert differences(TABLES, expected) == []
    found = count(TABLES[0]) + count(TABLES[1])
    print(f"\ncrash: expected {2 * len(expected)} items, {partial} after the kill, {found} after")

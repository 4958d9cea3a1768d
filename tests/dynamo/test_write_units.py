"""What a run reports it wrote, in write units, is what DynamoDB bills for the items stored;
a run under a write-unit cap completes and reports the same. On the local stack."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dynamo.shape import item_size
from tests.support import synced

TABLES = ("wcu_ci", "wcu_ciby")


def _billed(table: str) -> int:
    """The write units of putting every stored item of ``table`` anew, by DynamoDB's
    rule: one per KB (1024 bytes) of each item, rounded up."""
    client = boto3.client("dynamodb")
    pages = client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
    return sum(-(-item_size(item) // 1024) for page in pages for item in page["Items"])


@pytest.fixture(scope="module")
def written(local_stack: Any, warehouse: Any) -> tuple[dict[str, int], dict[str, int]]:
    """A fresh sync of 60 clients: the write units it reported, and the units billed."""
    synced.seeded(local_stack, warehouse, clients=60, seed=11, years=(2016, 2024))
    synced.fresh_tables(*TABLES)
    results = synced.sync(TABLES)
    reported = {result.table: result.write_units for result in results}
    return reported, {table: _billed(table) for table in TABLES}


def test_the_reported_write_units_are_what_dynamodb_bills_for_the_items(
    written: tuple[dict[str, int], dict[str, int]],
) -> None:
    reported, billed = written
    assert reported == billed, billed
    # By-year items span several KB: more units than items, unlike the totals.
    assert billed["wcu_ciby"] > 60 == billed["wcu_ci"]


def test_a_run_under_a_small_cap_completes_and_reports_its_units(
    written: tuple[dict[str, int], dict[str, int]],
) -> None:
    _, billed = written
    # A window holds the by-year units only: the run has to wait for its last batch.
    cap = billed["wcu_ciby"] // 5
    done = synced.etl(TABLES, "run", "--json", "--max-write-units", str(cap), timeout=300)
    assert done.returncode == 0, done.stderr
    tables = json.loads(done.stdout)["tables"]
    # Items of the same size again: each put is billed as before.
    assert {table: tables[table]["write_units"] for table in TABLES} == billed
    assert all(tables[table]["items"] == 60 for table in TABLES)

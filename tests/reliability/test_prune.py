"""Stale items: ``run --prune`` deletes clients no longer in the source, only after a
complete and successful run; never after a failed run or one limited by --entries."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.support.compare import scan
from tests.support.expected import from_warehouse
from tests.support.synced import differences, etl, fresh_tables, seeded

TABLES = ("prune_ci", "prune_ciby")


def stored_ids() -> list[set[int]]:
    client = boto3.client("dynamodb")
    return [set(scan(client, table)) for table in TABLES]


def test_prune_only_after_a_complete_successful_run(local_stack: Any, warehouse: Any) -> None:
    before = seeded(local_stack, warehouse, clients=200, seed=41, years=(2016, 2026))
    fresh_tables(*TABLES)
    assert etl(TABLES, "run").returncode == 0
    # Some clients leave the source: their items are now stale.
    gone = sorted(before)[::10]
    with warehouse.cursor() as cur:
        cur.execute("DELETE FROM contabyx.transactions WHERE clientid = ANY(%s)", (gone,))
    after = from_warehouse(warehouse)
    assert set(after) == set(before) - set(gone)

    limited = etl(TABLES, "run", "--entries", "20", "--prune")
    assert limited.returncode == 2 and "--prune" in limited.stderr
    assert stored_ids() == [set(before), set(before)]

    # A run that fails (the by-year view is unreadable) prunes nothing, in either table.
    with warehouse.cursor() as cur:
        cur.execute("ALTER VIEW contabyx.clients_info_by_month RENAME TO hidden_by_month")
        try:
            failed = etl(TABLES, "run", "--prune")
        finally:
            cur.execute("ALTER VIEW contabyx.hidden_by_month RENAME TO clients_info_by_month")
    assert failed.returncode == 1 and "clients_info_by_month" in failed.stderr
    assert stored_ids() == [set(before), set(before)]

    # 10% of the clients are gone, over the default PRUNE_MAX_SHARE: the operator allows it.
    done = etl(TABLES, "run", "--prune", "--json", PRUNE_MAX_SHARE="0.2")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert [summary["tables"][t]["pruned"] for t in TABLES] == [len(gone), len(gone)]
    assert differences(TABLES, after) == []
    print(f"\nprune: {len(before)} clients, {len(gone)} gone; pruned {len(gone)} per table")

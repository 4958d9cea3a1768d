"""``contabyx-etl verify``, on the local stack: after a sync it finds nothing; a deleted
item is missing, an edited figure wrong (its path and both values), an item of an unknown
client extra; ``--sample N`` checks N clients."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from dynamo.query import Insert
from dynamo.sync import CLIENTS_INFO_BY_YEAR
from dynamo.verify import ReadPacer, verify_table
from tests.support.synced import etl, seed_and_sync

TABLES = ("verify_ci", "verify_ciby")


@pytest.fixture(scope="module")
def synced(local_stack: Any, warehouse: Any) -> list[int]:
    """120 clients synced into TABLES; their clientids."""
    figures = seed_and_sync(
        local_stack, warehouse, clients=120, seed=23, years=(2022, 2025), tables=TABLES
    )
    return sorted(figures)


def _verify(*args: str) -> tuple[int, dict[str, Any]]:
    done = etl(TABLES, "verify", "--json", *args)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_verify_after_a_sync_finds_nothing(synced: list[int]) -> None:
    done = etl(TABLES, "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"verified verify_ci: {len(synced)} clients, 0 missing, 0 extra, 0 wrong; "
        f"verify_ciby: {len(synced)} clients, 0 missing, 0 extra, 0 wrong: no differences"
    ]


def test_verify_reports_missing_wrong_and_extra_items(synced: list[int], warehouse: Any) -> None:
    client = boto3.client("dynamodb")
    deleted, edited, year_edited = synced[3], synced[10], synced[20]
    unknown = synced[-1] + 1000
    # The year edited must be one the client has: read it back.
    stored = client.get_item(TableName=TABLES[1], Key={"clientid": {"N": str(year_edited)}})
    year = sorted(name for name in stored["Item"] if name.startswith("y"))[0]
    month = sorted(stored["Item"][year]["M"]["months"]["M"])[0]
    # The expected values are the snapshot's, as the warehouse gives them (two decimals).
    with warehouse.cursor() as cur:
        cur.execute("SELECT income FROM contabyx_sync.clients_info WHERE clientid = %s", (edited,))
        was_income = str(cur.fetchone()[0])
        cur.execute(
            "SELECT expense FROM contabyx_sync.clients_info_by_month"
            " WHERE clientid = %s AND year = %s AND month = %s",
            (year_edited, int(year[1:]), int(month[1:])),
        )
        was = str(cur.fetchone()[0])
    client.delete_item(TableName=TABLES[0], Key={"clientid": {"N": str(deleted)}})
    client.update_item(
        TableName=TABLES[0],
        Key={"clientid": {"N": str(edited)}},
        UpdateExpression="SET income = :v",
        ExpressionAttributeValues={":v": {"N": "123456789.01"}},
    )
    client.update_item(
        TableName=TABLES[1],
        Key={"clientid": {"N": str(year_edited)}},
        UpdateExpression="SET #y.months.#m.expense = :v",
        ExpressionAttributeNames={"#y": year, "#m": month},
        ExpressionAttributeValues={":v": {"N": "0.01"}},
    )
    client.put_item(
        TableName=TABLES[1],
        Item={"clientid": {"N": str(unknown)}, "balance": {"N": "1"}, "run": {"S": "x"}},
    )
    try:
        status, report = _verify()
        text = etl(TABLES, "verify")
    finally:  # the next tests start from a clean sync
        assert etl(TABLES, "run").returncode == 0
        client.delete_item(TableName=TABLES[1], Key={"clientid": {"N": str(unknown)}})

    assert status == 1
    assert report["differences"] == [
        {
            "table": "verify_ci",
            "clientid": deleted,
            "kind": "missing",
            "path": None,
            "expected": None,
            "stored": None,
        },
        {
            "table": "verify_ci",
            "clientid": edited,
            "kind": "wrong",
            "path": "income",
            "expected": was_income,
            "stored": "123456789.01",
        },
        {
            "table": "verify_ciby",
            "clientid": year_edited,
            "kind": "wrong",
            "path": f"{year}.months.{month}.expense",
            "expected": was,
            "stored": "0.01",
        },
        {
            "table": "verify_ciby",
            "clientid": unknown,
            "kind": "extra",
            "path": None,
            "expected": None,
            "stored": None,
        },
    ]
    counts = {t: (s["missing"], s["extra"], s["wrong"]) for t, s in report["tables"].items()}
    assert counts == {"verify_ci": (1, 0, 1), "verify_ciby": (0, 1, 1)}
    assert text.returncode == 1
    assert text.stdout.splitlines()[:4] == [
        f"verify_ci: client {deleted} missing (in the snapshot, not in DynamoDB)",
        f"verify_ci: client {edited} wrong income: expected {was_income}, stored 123456789.01",
        f"verify_ciby: client {year_edited} wrong {year}.months.{month}.expense: "
        f"expected {was}, stored 0.01",
        f"verify_ciby: client {unknown} extra (in DynamoDB, not in the snapshot)",
    ]
    assert text.stdout.splitlines()[-1].endswith(": 4 differences")


def test_sample_checks_exactly_n_clients(synced: list[int]) -> None:
    status, report = _verify("--sample", "7", "--table", "clients_info_by_year")
    assert status == 0
    assert list(report["tables"]) == ["verify_ciby"]
    assert report["tables"]["verify_ciby"]["clients"] == 7
    assert report["tables"]["verify_ciby"]["sample"] == 7
    # More than there are: every client, once.
    status, report = _verify("--sample", "1000", "--table", "clients_info")
    assert report["tables"]["verify_ci"]["clients"] == len(synced)


def test_a_sample_is_random(synced: list[int]) -> None:
    """Two samples of 10 of 120 clients are the same set about once in 10**14."""
    with Insert(clients_info_table=TABLES[0], clients_info_by_year_table=TABLES[1]) as insert:
        picked: list[set[int]] = []
        for _ in range(2):
            report = verify_table(
                CLIENTS_INFO_BY_YEAR,
                insert.settings,
                source=insert.source,
                client=insert.client,
                sample=10,
                pacer=ReadPacer(1000),
            )
            assert report.differences == [] and report.clients == 10
            picked.append(set(report.clientids))
    assert all(len(ids) == 10 and ids <= set(synced) for ids in picked)
    assert picked[0] != picked[1]


def test_verify_reads_are_paced(synced: list[int]) -> None:
    """At 20 read units a second the 120 small items (0.5 units each) take 3 requests,
    each of at most 20 units' worth of keys."""
    status, report = _verify("--table", "clients_info", "--max-read-units", "20")
    assert status == 0
    summary = report["tables"]["verify_ci"]
    # 120 keys of 0.5 units in batches of at most 40 keys, then one Scan page or more.
    assert summary["requests"] >= 3 + 1
    assert summary["read_units"] >= 60


def test_a_failure_is_one_line(synced: list[int]) -> None:
    done = etl(("no_such_ci", "no_such_ciby"), "verify", "--table", "clients_info")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "create-tables" in done.stderr, done.stderr
    # No snapshot to compare with: the sync has never run with this SYNC_SCHEMA.
    done = etl(TABLES, "verify", "--sample", "3", SYNC_SCHEMA="no_such_sync")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "contabyx-etl run` first" in done.stderr, done.stderr


def test_after_an_incremental_run_verify_still_reads_every_client(
    synced: list[int], warehouse: Any
) -> None:
    """An incremental run reads only the clients it marks; verify reads the whole copy."""
    changed = synced[5]
    with warehouse.cursor() as cur:
        cur.execute("SELECT MIN(typeid) FROM contabyx.transactiontypes WHERE nature = 'income'")
        income = int(cur.fetchone()[0])
        cur.execute("SELECT COALESCE(MAX(transactionid), 0) + 1 FROM contabyx.transactions")
        new_id = int(cur.fetchone()[0])
        cur.execute(
            "INSERT INTO contabyx.transactions (transactionid, clientid, typeid, time, amount)"
            " VALUES (%s, %s, %s, '2024-06-01 10:00:00', 1.23)",
            (new_id, changed, income),
        )
    try:
        run = etl(TABLES, "run", "--incremental", "--json")
        assert run.returncode == 0, run.stderr
        assert [t["items"] for t in json.loads(run.stdout)["tables"].values()] == [1, 1]
        status, report = _verify()
    finally:
        with warehouse.cursor() as cur:
            cur.execute("DELETE FROM contabyx.transactions WHERE transactionid = %s", (new_id,))
        assert etl(TABLES, "run").returncode == 0
    assert status == 0, report["differences"][:5]
    assert [t["clients"] for t in report["tables"].values()] == [len(synced), len(synced)]

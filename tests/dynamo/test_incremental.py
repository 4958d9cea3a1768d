"""``--incremental``: every kind of change in the source reaches DynamoDB, and only
the clients whose figures changed are written.

Each test compares DynamoDB, item by item, with figures computed independently from
the source rows (tests/support/expected.py), and the clients written with the ones
the test changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from dynamo.errors import PruneRefused, WriteError
from dynamo.extract import open_source
from dynamo.query import Insert
from dynamo.sync import SyncResult
from dynamo.views import create_views
from tests.support.expected import from_warehouse
from tests.support.settings import settings_of
from tests.support.synced import (
    HISTORY_SCHEMA,
    differences,
    empty_history,
    fresh_tables,
    seeded,
)

CLIENTS = 150
TABLES = ("incr_ci", "incr_ciby")
NEW_CLIENT = 9_000_001


def _sync(incremental: bool, **settings: Any) -> tuple[SyncResult, SyncResult]:
    options = {"clients_info_table": TABLES[0], "clients_info_by_year_table": TABLES[1]}
    with Insert(**{**options, **settings}) as insert:
        return (
            insert.clients_info(incremental=incremental),
            insert.clients_info_by_month(incremental=incremental),
        )


def _run(cur: Any, sql: str, *args: Any) -> None:
    cur.execute(sql, args)


@pytest.fixture(scope="module")
def synced(local_stack: Any, warehouse: Any) -> Iterator[Any]:
    seeded(local_stack, warehouse, clients=CLIENTS, seed=31, years=(2015, 2026))
    fresh_tables(*TABLES)
    _sync(incremental=False)
    yield warehouse


def _clients(warehouse: Any, count: int) -> list[int]:
    """Clients with at least two income and two expense transactions, in two years."""
    with warehouse.cursor() as cur:
        cur.execute(
            "SELECT t.clientid FROM contabyx.transactions t"
            " JOIN contabyx.transactiontypes tt ON tt.typeid = t.typeid"
            " GROUP BY t.clientid"
            " HAVING SUM(CASE WHEN tt.nature = 'income' THEN 1 ELSE 0 END) >= 2"
            " AND SUM(CASE WHEN tt.nature = 'expense' THEN 1 ELSE 0 END) >= 2"
            " AND COUNT(DISTINCT EXTRACT(YEAR FROM t.time)) >= 2"
            " ORDER BY t.clientid LIMIT %s",
            (count,),
        )
        return [int(row[0]) for row in cur.fetchall()]


def _type(warehouse: Any, nature: str) -> int:
    with warehouse.cursor() as cur:
        cur.execute(
            "SELECT MIN(typeid) FROM contabyx.transactiontypes WHERE nature = %s", (nature,)
        )
        return int(cur.fetchone()[0])


def _change_every_kind(warehouse: Any) -> dict[str, int]:
    """One client per kind of change; returns the clientid of each."""
    new, late, amount, kind, moved, deleted, emptied = _clients(warehouse, 7)
    income = _type(warehouse, "income")
    expense = _type(warehouse, "expense")
    with warehouse.cursor() as cur:
        cur.execute("SELECT COALESCE(MAX(transactionid), 0) FROM contabyx.transactions")
        next_id = int(cur.fetchone()[0]) + 1
        insert = (
            "INSERT INTO contabyx.transactions (transactionid, clientid, typeid, time, amount)"
            " VALUES (%s, %s, %s, %s, %s)"
        )
        _run(cur, insert, next_id, new, income, "2026-11-28 10:00:00", "12.34")
        # A late transaction: recorded today, its time in an old month.
        _run(cur, insert, next_id + 1, late, expense, "2016-02-10 09:00:00", "7.00")
        _run(cur, insert, next_id + 2, NEW_CLIENT, income, "2025-05-05 05:05:05", "500.00")
        one = "(SELECT MIN(transactionid) FROM contabyx.transactions WHERE clientid = %s)"
        _run(
            cur,
            f"UPDATE contabyx.transactions SET amount = amount + 1 WHERE transactionid = {one}",
            amount,
        )
        flip = (
            "UPDATE contabyx.transactions SET typeid = CASE WHEN typeid = %s THEN %s ELSE %s END"
            f" WHERE transactionid = {one}"
        )
        _run(cur, flip, income, expense, income, kind)
        # Same amount and type, another year: the totals stay, the months change.
        _run(
            cur,
            "UPDATE contabyx.transactions SET time = time - INTERVAL '3 years'"
            f" WHERE transactionid = {one}",
            moved,
        )
        _run(cur, f"DELETE FROM contabyx.transactions WHERE transactionid = {one}", deleted)
        _run(cur, "DELETE FROM contabyx.transactions WHERE clientid = %s", emptied)
    return {
        "new transaction": new,
        "late transaction": late,
        "corrected amount": amount,
        "corrected type": kind,
        "corrected time": moved,
        "deleted transaction": deleted,
        "new client": NEW_CLIENT,
        "client left with nothing": emptied,
    }


def test_every_kind_of_change_is_written_and_nothing_else(synced: Any) -> None:
    changed = _change_every_kind(synced)
    info, by_year = _sync(incremental=True)

    after = from_warehouse(synced)
    assert differences(TABLES, after) == []
    gone = changed["client left with nothing"]
    moved = changed["corrected time"]
    everyone = set(changed.values()) - {gone}
    # A moved transaction changes months, not totals: only the by-year item changes.
    assert set(info.clientids) == everyone - {moved}
    assert set(by_year.clientids) == everyone
    assert (info.deleted, by_year.deleted) == (1, 1)
    assert info.unchanged == len(after) - len(everyone - {moved})
    assert by_year.unchanged == len(after) - len(everyone)

    again = _sync(incremental=True)
    assert [(r.items, r.deleted) for r in again] == [(0, 0), (0, 0)]


def test_a_failed_run_does_not_advance_the_state(synced: Any) -> None:
    [client] = _clients(synced, 1)
    with synced.cursor() as cur:
        cur.execute(
            "UPDATE contabyx.transactions SET amount = amount + 2 WHERE transactionid ="
            " (SELECT MIN(transactionid) FROM contabyx.transactions WHERE clientid = %s)",
            (client,),
        )
    with pytest.raises(WriteError):
        _sync(incremental=True, clients_info_table="no_such_table_incr")
    info, by_year = _sync(incremental=True)
    assert info.clientids == by_year.clientids == [client]
    assert differences(TABLES, from_warehouse(synced)) == []


def test_a_source_that_lost_most_clients_deletes_nothing(synced: Any) -> None:
    with synced.cursor() as cur:
        cur.execute("CREATE TEMP TABLE kept AS SELECT * FROM contabyx.transactions")
        cur.execute("DELETE FROM contabyx.transactions WHERE clientid % 2 = 0")
    try:
        with pytest.raises(PruneRefused, match="PRUNE_MAX_SHARE"):
            _sync(incremental=True)
    finally:
        with synced.cursor() as cur:
            cur.execute("DELETE FROM contabyx.transactions")
            cur.execute("INSERT INTO contabyx.transactions SELECT * FROM kept")
            cur.execute("DROP TABLE kept")
    # Nothing was deleted, and the state did not move: the next run finds nothing to do.
    info, by_year = _sync(incremental=True)
    assert [(r.items, r.deleted) for r in (info, by_year)] == [(0, 0), (0, 0)]
    assert differences(TABLES, from_warehouse(synced)) == []


SPECTRUM_TABLES = ("incr_spectrum_ci", "incr_spectrum_ciby")


def test_a_change_to_the_spectrum_history_is_seen(local_stack: Any, warehouse: Any) -> None:
    seeded(local_stack, warehouse, clients=60, seed=47, years=(2020, 2022))
    [client] = _clients(warehouse, 1)
    income = _type(warehouse, "income")
    with warehouse.cursor() as cur:
        empty_history(cur)
        cur.execute(
            "INSERT INTO ext_contabyx.transactions VALUES (1, %s, %s, '2012-01-31', 100.00)",
            (client, income),
        )
    source = open_source(settings_of(local_stack.env))
    try:
        create_views(source, spectrum_schema="ext_contabyx", late_binding=False)
        fresh_tables(*SPECTRUM_TABLES)
        tables = dict(zip(("clients_info_table", "clients_info_by_year_table"), SPECTRUM_TABLES))
        _sync(incremental=False, **tables)
        with warehouse.cursor() as cur:
            cur.execute("UPDATE ext_contabyx.transactions SET amount = 250.00")
        info, by_year = _sync(incremental=True, **tables)
        assert info.clientids == by_year.clientids == [client]
        assert differences(SPECTRUM_TABLES, from_warehouse(warehouse, history=HISTORY_SCHEMA)) == []
    finally:
        with warehouse.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS ext_contabyx.transactions CASCADE")
        create_views(source, late_binding=False)

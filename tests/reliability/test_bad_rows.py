"""Bad source rows: the defined behaviour is that the views leave them out and the
summary counts them, by reason. Never a crash, never a wrong figure.

The Spectrum history has no NOT NULL constraint, so NULL clientids and amounts can
only come from there: the test puts them in a local stand-in for the external
schema and creates the Spectrum variant of the views over it.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import boto3

from devstack.seed import seed
from dynamo.extract import open_source
from dynamo.query import Insert
from dynamo.views import create_views
from tests.support.expected import compute
from tests.support.settings import settings_of
from tests.support.synced import differences, empty_history, etl, fresh_tables

TABLES = ("bad_ci", "bad_ciby")
T = datetime(2021, 6, 30, 12, 0)
BAD = [
    (9001, 777, 1, T, Decimal("10.00")),  # typeid 1 may exist; see below for unknown type
    (9002, None, 1, T, Decimal("5.00")),  # NULL clientid
    (9003, 778, 1, T, None),  # NULL amount
    (9004, 779, 424242, T, Decimal("7.00")),  # a type that does not exist
    (9005, 780, 1, None, Decimal("3.00")),  # NULL time
]


def test_bad_rows_are_left_out_and_counted(local_stack: Any, warehouse: Any) -> None:
    seed(local_stack.conninfo, clients=50, seed=43, years=(2020, 2022))
    with warehouse.cursor() as cur:
        empty_history(cur)
        cur.execute("SELECT typeid FROM contabyx.transactiontypes WHERE nature = 'income'")
        income_type = cur.fetchone()[0]
        rows = [(t, c, income_type if ty == 1 else ty, tm, a) for t, c, ty, tm, a in BAD]
        cur.executemany("INSERT INTO ext_contabyx.transactions VALUES (%s, %s, %s, %s, %s)", rows)
        cur.execute(
            "SELECT * FROM contabyx.transactions UNION ALL SELECT * FROM ext_contabyx.transactions"
        )
        history = cur.fetchall()
        cur.execute("SELECT typeid, name, nature FROM contabyx.transactiontypes")
        types = cur.fetchall()
        cur.execute(
            "SELECT count(*) FROM contabyx.transactions t JOIN contabyx.transactiontypes tt"
            " USING (typeid) WHERE tt.nature NOT IN ('income', 'expense')"
        )
        other_nature = cur.fetchone()[0]
    try:
        create_views(
            open_source(settings_of(local_stack.env)),
            spectrum_schema="ext_contabyx",
            late_binding=False,
        )
        fresh_tables(*TABLES)
        done = etl(TABLES, "run", "--json")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["rejected_rows"] == {
            "unknown_type": 1,
            "ambiguous_type": 0,
            "other_nature": other_nature,
            "null_clientid": 1,
            "negative_clientid": 0,
            "null_amount": 1,
            "null_time": 1,
            "time_out_of_range": 0,
        }
        expected = compute(history, types)
        assert 777 in expected, "the good Spectrum row counts for its client"
        assert not {778, 779, 780} & set(expected)
        assert differences(TABLES, expected) == []
        print(f"\nbad rows: {len(expected)} clients exact; left out {summary['rejected_rows']}")
    finally:
        create_views(open_source(settings_of(local_stack.env)), late_binding=False)


# --- hostile rows in the local table (issue "hostile days") --------------------------
#
# Each test seeds a small warehouse, adds the rows of one kind, syncs both tables
# through the emulator and checks: the run succeeds, every other client is exact,
# and the rows are counted under their own reason.

HOSTILE_TABLES = ("hostile_ci", "hostile_ciby")
_INSERT = (
    "INSERT INTO contabyx.transactions (transactionid, clientid, typeid, time, amount)"
    " VALUES (%s, %s, %s, CAST(%s AS TIMESTAMP), %s)"
)


def _seeded(local_stack: Any, warehouse: Any) -> int:
    """Seed 40 clients and fresh tables; returns an income typeid."""
    seed(local_stack.conninfo, clients=40, seed=71, years=(2020, 2022))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    fresh_tables(*HOSTILE_TABLES)
    with warehouse.cursor() as cur:
        cur.execute("SELECT min(typeid) FROM contabyx.transactiontypes WHERE nature = 'income'")
        return int(cur.fetchone()[0])


def _history(warehouse: Any, where: str = "TRUE") -> list[tuple[Any, ...]]:
    with warehouse.cursor() as cur:
        cur.execute(
            "SELECT transactionid, clientid, typeid, time, amount"
            f" FROM contabyx.transactions WHERE {where}"
        )
        return cur.fetchall()


def _types(warehouse: Any) -> list[tuple[Any, ...]]:
    with warehouse.cursor() as cur:
        cur.execute("SELECT typeid, name, nature FROM contabyx.transactiontypes")
        return cur.fetchall()


def _sync_all() -> tuple[Any, Any, dict[str, int]]:
    with Insert(
        clients_info_table=HOSTILE_TABLES[0], clients_info_by_year_table=HOSTILE_TABLES[1]
    ) as insert:
        return insert.clients_info(), insert.clients_info_by_month(), insert.source_rejects()


def _nonzero(rejects: dict[str, int]) -> dict[str, int]:
    return {
        reason: count for reason, count in rejects.items() if count and reason != "other_nature"
    }


def test_a_typeid_with_two_natures_rejects_its_rows(local_stack: Any, warehouse: Any) -> None:
    income = _seeded(local_stack, warehouse)
    with warehouse.cursor() as cur:
        # The row: an existing typeid again, with the other nature.
        cur.execute(
            "INSERT INTO contabyx.transactiontypes VALUES (%s, 'salary again', 'expense')",
            (income,),
        )
        # An identical duplicate of another type counts once.
        cur.execute(
            "INSERT INTO contabyx.transactiontypes"
            " SELECT typeid, name, nature FROM contabyx.transactiontypes"
            " WHERE nature = 'expense' AND typeid <> %s ORDER BY typeid LIMIT 1",
            (income,),
        )
    history = _history(warehouse)
    ambiguous = sum(1 for row in history if row[2] == income)
    assert ambiguous > 0
    types = [t for t in _types(warehouse) if t[0] != income]
    info, by_year, rejects = _sync_all()
    expected = compute(history, types)
    assert differences(HOSTILE_TABLES, expected) == []
    assert _nonzero(rejects) == {"ambiguous_type": ambiguous}
    assert info.items == by_year.items == len(expected)
    # Every source row is summed for its client or counted under one reason.
    summed = sum(c.total.income_count + c.total.expense_count for c in expected.values())
    assert summed + sum(rejects.values()) == len(history)


def test_negative_clientids_are_rejected_and_entries_counts_stored_clients(
    local_stack: Any, warehouse: Any
) -> None:
    income = _seeded(local_stack, warehouse)
    with warehouse.cursor() as cur:
        cur.execute(_INSERT, (9201, -5, income, "2021-03-01 10:00:00", Decimal("10.00")))
        cur.execute(_INSERT, (9202, -(2**62), income, "2021-03-01 10:00:00", Decimal("1.00")))
    good = compute(_history(warehouse, "clientid >= 0"), _types(warehouse))
    lowest = sorted(good)
    with Insert(
        clients_info_table=HOSTILE_TABLES[0], clients_info_by_year_table=HOSTILE_TABLES[1]
    ) as insert:
        assert insert.clients_info(entries=1).clientids == lowest[:1]
        assert insert.clients_info_by_month(entries=1).clientids == lowest[:1]
        assert insert.clients_info(entries=30).clientids == lowest[:30]
        assert _nonzero(insert.source_rejects()) == {"negative_clientid": 2}
    info, _, _ = _sync_all()
    assert info.clientids == lowest
    assert differences(HOSTILE_TABLES, good) == []


def test_times_outside_years_1_to_9999_are_rejected(local_stack: Any, warehouse: Any) -> None:
    income = _seeded(local_stack, warehouse)
    good = compute(_history(warehouse), _types(warehouse))
    client = min(good)
    with warehouse.cursor() as cur:
        cur.execute(_INSERT, (9301, client, income, "0044-03-15 12:00:00 BC", Decimal("44.00")))
        cur.execute(_INSERT, (9302, client, income, "12345-01-01 00:00:00", Decimal("5.00")))
        # The edges of the accepted range are kept.
        cur.execute(_INSERT, (9303, client, income, "0001-01-01 00:00:00", Decimal("1.00")))
        cur.execute(_INSERT, (9304, client, income, "9999-12-31 23:59:59", Decimal("2.00")))
    kept = compute(_history(warehouse, "transactionid NOT IN (9301, 9302)"), _types(warehouse))
    info, by_year, rejects = _sync_all()
    assert _nonzero(rejects) == {"time_out_of_range": 2}
    assert differences(HOSTILE_TABLES, kept) == []
    assert info.items == by_year.items == len(kept)


def test_a_sum_past_decimal_18_is_exact(local_stack: Any, warehouse: Any) -> None:
    income = _seeded(local_stack, warehouse)
    big, rows = Decimal("9999999999.99"), 1_000_001  # the largest DECIMAL(12,2), 10^16 in all
    with warehouse.cursor() as cur:
        cur.execute(
            "INSERT INTO contabyx.transactions"
            " SELECT 20000000 + g, 4242, %s, TIMESTAMP '2021-05-05 05:05:05', %s"
            " FROM generate_series(1, %s) AS g",
            (income, big, rows),
        )
    expected = compute(_history(warehouse, "clientid <> 4242"), _types(warehouse))
    info, by_year, rejects = _sync_all()
    assert _nonzero(rejects) == {}
    assert 4242 in info.clientids and 4242 in by_year.clientids
    item = boto3.client("dynamodb").get_item(
        TableName=HOSTILE_TABLES[0], Key={"clientid": {"N": "4242"}}
    )["Item"]
    assert Decimal(item["income"]["N"]) == big * rows
    assert Decimal(item["income_count"]["N"]) == rows
    with warehouse.cursor() as cur:
        cur.execute("DELETE FROM contabyx.transactions WHERE clientid = 4242")
    # Every other client is exact too.
    assert [d for d in differences(HOSTILE_TABLES, expected) if "4242" not in d] == []

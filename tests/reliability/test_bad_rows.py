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

from devstack.seed import seed
from dynamo.extract import open_source
from dynamo.views import create_views
from tests.support.expected import compute
from tests.support.synced import differences, etl, fresh_tables

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
        cur.execute("CREATE SCHEMA IF NOT EXISTS ext_contabyx")
        cur.execute("DROP TABLE IF EXISTS ext_contabyx.transactions")
        cur.execute(
            "CREATE TABLE ext_contabyx.transactions (transactionid BIGINT, clientid BIGINT,"
            " typeid INTEGER, time TIMESTAMP, amount DECIMAL(12,2))"
        )
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
            open_source(dict(local_stack.env)), spectrum_schema="ext_contabyx", late_binding=False
        )
        fresh_tables(*TABLES)
        done = etl(TABLES, "run", "--json")
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["rejected_rows"] == {
            "unknown_type": 1,
            "other_nature": other_nature,
            "null_clientid": 1,
            "null_amount": 1,
            "null_time": 1,
        }
        expected = compute(history, types)
        assert 777 in expected, "the good Spectrum row counts for its client"
        assert not {778, 779, 780} & set(expected)
        assert differences(TABLES, expected) == []
        print(f"\nbad rows: {len(expected)} clients exact; left out {summary['rejected_rows']}")
    finally:
        create_views(open_source(dict(local_stack.env)), late_binding=False)

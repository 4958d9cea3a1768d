"""A run reads each view once, whatever CHUNK_CLIENTS is: the views (and so the
transactions, and the Spectrum history, billed by the byte) are copied into the
sync's own tables in one transaction, and the plan and every range read the copy.

Statements are counted as the Data API emulator received them (ListStatements),
the record AWS also keeps of what a caller sent.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import boto3
import pytest

from devstack.dataapi import sent_statements
from dynamo.query import Insert
from tests.support.synced import differences, fresh_tables, seeded

CLIENTS = 120
TABLES = ("snap_ci", "snap_ciby")
#: A view of the views schema, as a statement names it.
VIEW = re.compile(r"\bcontabyx\.(clients_info_by_month|clients_info|source_rejects)\b")


@pytest.fixture(scope="module")
def run(local_stack: Any, warehouse: Any) -> dict[str, Any]:
    expected = seeded(local_stack, warehouse, clients=CLIENTS, seed=29)
    fresh_tables(*TABLES)
    data_api = boto3.client("redshift-data")
    before = set(sent_statements(data_api))
    with Insert(
        clients_info_table=TABLES[0],
        clients_info_by_year_table=TABLES[1],
        chunk_clients=7,
        source="data-api",
    ) as insert:
        results = (insert.clients_info(), insert.clients_info_by_month())
        insert.source_rejects()
    sent = {key: sqls for key, sqls in sent_statements(data_api).items() if key not in before}
    return {"expected": expected, "results": results, "sent": sent}


def test_each_view_is_read_by_one_statement_of_the_run(run: dict[str, Any]) -> None:
    reads = Counter(
        view for sqls in run["sent"].values() for sql in sqls for view in VIEW.findall(sql)
    )
    assert reads == {"clients_info": 1, "clients_info_by_month": 1, "source_rejects": 1}


def test_the_run_still_read_many_ranges(run: dict[str, Any]) -> None:
    # 120 clients in ranges of 7: 18 ranges a table, each its own statement.
    for result in run["results"]:
        assert result.statements == 18 + 2
    assert len(run["sent"]) >= 2 * (18 + 2)


def test_what_was_written_equals_the_independent_figures(run: dict[str, Any]) -> None:
    assert differences(TABLES, run["expected"]) == []

"""What a sync reports as it goes: the plan, rows read and items written."""

from __future__ import annotations

import threading
from typing import Any

import boto3

from devstack.seed import seed
from dynamo.extract import open_source
from dynamo.query import Insert
from dynamo.sync import Progress
from dynamo.tables import create_tables
from dynamo.views import create_views
from tests.support.settings import settings_of

TABLES = {"clients_info_table": "progress_ci", "clients_info_by_year_table": "progress_ciby"}


class Recorder(Progress):
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.plans: list[int] = []
        self.rows_read = 0
        self.items: dict[str, int] = {}

    def planned(self, clients: int) -> None:
        self.plans.append(clients)

    def rows(self, count: int) -> None:
        with self.lock:
            self.rows_read += count

    def written(self, table: str, count: int) -> None:
        with self.lock:
            self.items[table] = self.items.get(table, 0) + count


def test_progress_reports_the_plan_the_rows_and_the_items(local_stack: Any) -> None:
    seed(local_stack.conninfo, clients=60, seed=13, years=(2021, 2023))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    create_tables(boto3.client("dynamodb"), *TABLES.values())
    with Insert(chunk_clients=7, **TABLES) as insert:
        info = Recorder()
        result = insert.clients_info(entries=25, progress=info)
        months = Recorder()
        by_year = insert.clients_info_by_month(progress=months)
    assert info.plans == [25] and info.rows_read == 25
    assert info.items == {"progress_ci": 25} and result.items == 25
    assert months.plans == [by_year.items]
    assert months.rows_read == by_year.rows > by_year.items
    assert months.items == {"progress_ciby": by_year.items}

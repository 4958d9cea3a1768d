"""A seeded warehouse synced into fresh DynamoDB tables, and the sync's command line,
for the tests that run on the local stack.

>>> expected = seed_and_sync(local_stack, warehouse, clients=300, seed=7,
...                          years=(2015, 2026), tables=("api_ci", "api_ciby"))
>>> assert differences(("api_ci", "api_ciby"), expected) == []

The figures are computed right after seeding, so a module keeps them even when a
later module re-seeds the warehouse.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import boto3

from contabyx import layout
from devstack.seed import DEFAULT_YEARS
from devstack.seed import seed as seed_rows
from dynamo.extract import open_source
from dynamo.query import Insert
from dynamo.sync import SyncResult
from dynamo.tables import create_tables
from dynamo.views import create_views
from tests.support.compare import by_year_differences, clients_info_differences, scan
from tests.support.expected import ClientFigures, from_warehouse
from tests.support.settings import settings_of

ROOT = Path(__file__).resolve().parents[2]
#: The tables of ``clients_info`` and ``clients_info_by_year``, when none are named.
DEFAULT_TABLES = (layout.CLIENTS_INFO_TABLE, layout.CLIENTS_INFO_BY_YEAR_TABLE)


def seeded(
    local_stack: Any,
    warehouse: Any,
    *,
    clients: int,
    seed: int,
    years: tuple[int, int] = DEFAULT_YEARS,
) -> dict[int, ClientFigures]:
    """Seed the warehouse, compute the independent figures, and create the views."""
    seed_rows(local_stack.conninfo, clients=clients, seed=seed, years=years)
    figures = from_warehouse(warehouse)
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    return figures


def sync_table(tables: Sequence[str]) -> str:
    """The sync's own table (lease, run records) of the runs on ``tables``: one per
    pair, so that the command-line runs of two test modules never share a lease."""
    return f"{tables[0]}_sync"


def fresh_tables(*names: str) -> None:
    """Delete the tables of these names, and their sync table, if they exist (a reused
    stack), then create them."""
    client = boto3.client("dynamodb")
    existing = set(client.list_tables()["TableNames"])
    for name in (*names, sync_table(names)):
        if name in existing:
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
    create_tables(client, *names, sync_table=sync_table(names))


def sync(tables: Sequence[str] = DEFAULT_TABLES) -> tuple[SyncResult, SyncResult]:
    """Both syncs, ``clients_info`` then ``clients_info_by_month``, into ``tables``."""
    info, by_year = tables
    with Insert(clients_info_table=info, clients_info_by_year_table=by_year) as insert:
        return insert.clients_info(), insert.clients_info_by_month()


def seed_and_sync(
    local_stack: Any,
    warehouse: Any,
    *,
    clients: int,
    seed: int,
    years: tuple[int, int] = DEFAULT_YEARS,
    tables: Sequence[str] = DEFAULT_TABLES,
) -> dict[int, ClientFigures]:
    """Seed, compute the figures, create the views, fresh ``tables``, sync both.

    Returns the independent figures of the seeded rows.
    """
    figures = seeded(local_stack, warehouse, clients=clients, seed=seed, years=years)
    fresh_tables(*tables)
    sync(tables)
    return figures


def differences(tables: Sequence[str], expected: dict[int, ClientFigures]) -> list[str]:
    """How both tables, read from DynamoDB, differ from ``expected`` (empty: equal)."""
    client = boto3.client("dynamodb")
    info, by_year = (scan(client, t) for t in tables)
    return clients_info_differences(info, expected) + by_year_differences(by_year, expected)


# --- the sync's command line (contabyx-etl) ------------------------------------------


def etl_command(*args: str) -> list[str]:
    """``contabyx-etl *args`` with this interpreter."""
    return [sys.executable, "-m", "dynamo.cli", *args]


def etl_env(tables: Sequence[str], **env: str) -> dict[str, str]:
    """This process's environment, naming ``tables`` (and their sync table) for the
    sync, plus ``env``."""
    info, by_year = tables
    return {
        **os.environ,
        "CLIENTS_INFO_TABLE": info,
        "CLIENTS_INFO_BY_YEAR_TABLE": by_year,
        "SYNC_TABLE": sync_table(tables),
        **env,
    }


def etl(
    tables: Sequence[str], *args: str, timeout: Optional[float] = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``contabyx-etl *args`` from the repository on ``tables``; never raises on failure."""
    return subprocess.run(
        etl_command(*args),
        env=etl_env(tables, **env),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


#: The schema of the local table that stands in for the Spectrum history.
HISTORY_SCHEMA = "ext_contabyx"


def empty_history(cur: Any) -> None:
    """A local, empty ``ext_contabyx.transactions``: the Spectrum history's stand-in
    (``create-views --spectrum-schema ext_contabyx`` reads it beside the local table)."""
    cur.execute(f"CREATE SCHEMA IF NOT EXISTS {HISTORY_SCHEMA}")
    cur.execute(f"DROP TABLE IF EXISTS {HISTORY_SCHEMA}.transactions")
    cur.execute(
        f"CREATE TABLE {HISTORY_SCHEMA}.transactions (transactionid BIGINT, clientid BIGINT,"
        " typeid INTEGER, time TIMESTAMP, amount DECIMAL(12,2))"
    )

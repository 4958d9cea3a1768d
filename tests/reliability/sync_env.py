"""What the reliability tests share: a seeded warehouse with views, fresh tables,
and the comparison of both tables with the independent figures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3

from devstack.seed import seed
from dynamo.extract import open_source
from dynamo.tables import create_tables
from dynamo.views import create_views
from tests.support.compare import by_year_differences, clients_info_differences, scan
from tests.support.expected import ClientFigures, from_warehouse

ROOT = Path(__file__).resolve().parents[2]


def seeded(
    local_stack: Any, warehouse: Any, *, clients: int, seed_: int
) -> dict[int, ClientFigures]:
    """Seed the warehouse, create the views, and return the independent figures."""
    seed(local_stack.conninfo, clients=clients, seed=seed_, years=(2016, 2026))
    create_views(open_source(dict(local_stack.env)), late_binding=False)
    return from_warehouse(warehouse)


def fresh_tables(*names: str) -> None:
    client = boto3.client("dynamodb")
    existing = client.list_tables()["TableNames"]
    for name in names:
        if name in existing:
            client.delete_table(TableName=name)
    create_tables(client, *names)


def differences(tables: tuple[str, str], expected: dict[int, ClientFigures]) -> list[str]:
    client = boto3.client("dynamodb")
    info, by_year = (scan(client, t) for t in tables)
    return clients_info_differences(info, expected) + by_year_differences(by_year, expected)


def etl_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "dynamo.cli", *args]


def etl(tables: tuple[str, str], *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "CLIENTS_INFO_TABLE": tables[0],
        "CLIENTS_INFO_BY_YEAR_TABLE": tables[1],
        **env,
    }
    return subprocess.run(
        etl_command(*args), env=full_env, cwd=ROOT, capture_output=True, text=True, check=False
    )

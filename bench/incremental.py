"""Benchmark of incremental runs against full runs, on the same data, in one run.

Run on the local stack (``make bench`` starts it):

    python bench/incremental.py [--clients 20000] [--changed-share 0.01]

Seeds the clients, runs a full sync of both tables, changes one counted transaction
of 1% of the clients (an amount corrected by one cent), then runs an incremental sync
and, for the baseline measured in the same run, a full sync of the same data. For
each it prints the items written, the write units DynamoDB's rule gives for them,
the wall time, and the statements that read the views (and so the transactions).
Figures, not assertions: these machines are shared and noisy, so only the ratios of
one run mean anything.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from devstack.dataapi import sent_statements  # noqa: E402
from devstack.seed import correct_amounts, seed  # noqa: E402
from devstack.stack import Stack  # noqa: E402
from dynamo.aws import dynamodb_client  # noqa: E402
from dynamo.config import load_settings  # noqa: E402
from dynamo.extract import open_source  # noqa: E402
from dynamo.query import Insert  # noqa: E402
from dynamo.shape import item_size  # noqa: E402
from dynamo.tables import create_tables  # noqa: E402
from dynamo.views import create_views  # noqa: E402

TABLES = ("bench_incr_ci", "bench_incr_ciby")
#: A view of the views' schema, as a statement names it.
VIEW = re.compile(r"\bcontabyx\.(clients_info_by_month|clients_info)\b")


def write_units(client: Any, table: str, clientids: list[int]) -> int:
    """The units DynamoDB's rule gives for putting the items of ``clientids`` as stored:
    one per KB, rounded up, per item."""
    units = 0
    for start in range(0, len(clientids), 100):
        keys = [{"clientid": {"N": str(c)}} for c in clientids[start : start + 100]]
        request = {table: {"Keys": keys}}
        while request:
            answer = client.batch_get_item(RequestItems=request)
            for item in answer["Responses"].get(table, []):
                units += math.ceil(item_size(item) / 1024)
            request = answer.get("UnprocessedKeys") or {}
    return units


def sync(client: Any, data_api: Any, incremental: bool) -> dict[str, Any]:
    before = set(sent_statements(data_api))
    started = time.perf_counter()
    with Insert(clients_info_table=TABLES[0], clients_info_by_year_table=TABLES[1]) as insert:
        results = [
            insert.clients_info(incremental=incremental),
            insert.clients_info_by_month(incremental=incremental),
        ]
    seconds = time.perf_counter() - started
    sent = [sqls for key, sqls in sent_statements(data_api).items() if key not in before]
    reads = Counter(view for sqls in sent for sql in sqls for view in VIEW.findall(sql))
    return {
        "seconds": seconds,
        "items": sum(r.items for r in results),
        "units": sum(write_units(client, r.table, r.clientids) for r in results),
        "reads": dict(reads),
        "statements": len(sent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--changed-share", type=float, default=0.01)
    args = parser.parse_args()

    stack = Stack()
    env = stack.up()
    os.environ.update(env)
    print(f"seeding {args.clients} clients ...", flush=True)
    seed(stack.warehouse_conninfo(), clients=args.clients, seed=1)
    create_views(
        open_source(load_settings(environ=env, env_file=Path(os.devnull))), late_binding=False
    )
    client = dynamodb_client(pool=16, retries=True)
    for name in TABLES:
        if name in client.list_tables()["TableNames"]:
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(TableName=name)
    create_tables(client, *TABLES)
    data_api = boto3.client("redshift-data")

    first = sync(client, data_api, incremental=False)
    changed = len(correct_amounts(stack.warehouse_conninfo(), round(1 / args.changed_share)))
    incremental = sync(client, data_api, incremental=True)
    full = sync(client, data_api, incremental=False)

    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{args.clients} clients, {changed} changed"
    )
    print(f"{'run':<26}{'items':>8}{'WCU':>9}{'seconds':>9}{'items/s':>9}  view reads")
    for name, run in (
        ("full (first)", first),
        ("incremental", incremental),
        ("full (same data)", full),
    ):
        rate = run["items"] / run["seconds"]
        figures = f"{run['items']:>8}{run['units']:>9}{run['seconds']:>9.1f}{rate:>9.0f}"
        print(f"{name:<26}{figures}  {run['reads']}")
    wanted = 2 * changed
    units = incremental["units"] / full["units"]
    wall = incremental["seconds"] / full["seconds"]
    print(f"\nincremental items written: {incremental['items']} (changed clients x 2: {wanted})")
    print(f"write units, incremental / full: {units:.4f} (target <= 0.05)")
    print(f"wall time, incremental / full: {wall:.3f} (target <= 0.2)")


if __name__ == "__main__":
    main()

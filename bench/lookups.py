"""Benchmark of lookups: ``client(id, "by_month")`` against what the original did.

    python bench/lookups.py [--clients 2000] [--lookups 1000]

The naive client makes one ``GetItem`` per figure (balance, income, expense)
and one per year from 2015 to this year, as the original did. Both read the same
tables on the local stack, in one run, alternating so that load on the machine
falls on both alike. Prints latency percentiles, lookups/s and the ratio.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boto3.dynamodb.types import TypeDeserializer  # noqa: E402

from contabyx import contabyxAPI, layout  # noqa: E402
from devstack.seed import seed  # noqa: E402
from devstack.stack import Stack  # noqa: E402
from dynamo.aws import dynamodb_client  # noqa: E402
from dynamo.config import Settings, load_settings  # noqa: E402
from dynamo.extract import open_source  # noqa: E402
from dynamo.query import Insert  # noqa: E402
from dynamo.tables import create_tables  # noqa: E402
from dynamo.views import create_views  # noqa: E402

INFO, BY_YEAR = "bench_lookup_ci", "bench_lookup_ciby"


class NaiveClient:
    """What the original did: a GetItem per figure, and one per year."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._deser = TypeDeserializer().deserialize

    def _get(self, table: str, clientid: int, attribute: str) -> Any:
        item = self._client.get_item(
            TableName=table,
            Key={"clientid": {"N": str(clientid)}},
            ProjectionExpression="#a",
            ExpressionAttributeNames={"#a": attribute},
        ).get("Item", {})
        return self._deser(item[attribute]) if attribute in item else None

    def client_by_month(self, clientid: int) -> dict[str, Any]:
        out: dict[str, Any] = {"clientid": clientid, "years": {}}
        for figure in ("balance", "income", "expense"):
            out[figure] = float(self._get(INFO, clientid, figure))
        for year in range(2015, date.today().year + 1):
            value = self._get(BY_YEAR, clientid, layout.year_attribute(year))
            if value is not None:
                out["years"][year] = value
        return out


def _settings(env: dict[str, str]) -> Settings:
    """The settings of the local stack's environment, without any env file."""
    return load_settings(environ=env, env_file=Path(os.devnull))


def measure(fn: Callable[[int], Any], ids: list[int]) -> list[float]:
    latencies = []
    for clientid in ids:
        started = time.perf_counter()
        fn(clientid)
        latencies.append(time.perf_counter() - started)
    return latencies


def describe(name: str, latencies: list[float]) -> float:
    ms = sorted(x * 1000 for x in latencies)
    rate = len(ms) / (sum(latencies) or 1)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"  {name}: p50 {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, {rate:,.0f} lookups/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    stack = Stack()
    env = stack.up()
    os.environ.update(env)
    seed(stack.warehouse_conninfo(), clients=args.clients, seed=9)
    create_views(open_source(_settings(env)), late_binding=False)
    create_tables(dynamodb_client(retries=True), INFO, BY_YEAR)
    insert = Insert(clients_info_table=INFO, clients_info_by_year_table=BY_YEAR)
    ids = insert.clients_info().clientids
    insert.clients_info_by_month()

    api = contabyxAPI(clients_info_table=INFO, clients_info_by_year_table=BY_YEAR)
    naive = NaiveClient(dynamodb_client(retries=True))
    sample = random.Random(1).choices(ids, k=args.lookups)
    # Warm both up: connection pools, JIT of DynamoDB Local.
    measure(lambda i: api.client(i, "by_month"), sample[:50])
    measure(naive.client_by_month, sample[:50])
    ours_all: list[float] = []
    naive_all: list[float] = []
    for _ in range(args.rounds):
        ours_all += measure(lambda i: api.client(i, "by_month"), sample)
        naive_all += measure(naive.client_by_month, sample)
    print(f"{args.lookups} x {args.rounds} lookups of client(id, 'by_month'), one thread:")
    ours = describe("contabyxAPI.client (one BatchGetItem)", ours_all)
    theirs = describe(f"naive (3 + {date.today().year - 2014} GetItem)", naive_all)
    print(f"ratio: {ours / theirs:.1f}x lookups/s (target >= 5x)")


if __name__ == "__main__":
    main()

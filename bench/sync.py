"""Benchmark of the sync: four ways to fill ``clients_info`` from the same seeded clients.

Run on the local stack (``make bench`` installs the ``bench`` extra and starts it):

    python bench/sync.py [--clients 20000] [--rss-clients 80000] [--repeat 3]

In one run, against the same warehouse rows and the same DynamoDB Local:

(a) this project's ``Insert().clients_info()``, end to end;
(b) the same rows written by one ``put_item`` per client (what the original did);
(c) ``awswrangler.data_api.redshift.read_sql_query`` then ``awswrangler.dynamodb.put_df``;
(d) the ceiling: pre-serialised items written by 8 threads of raw ``batch_write_item``,
    no extraction at all.

It prints items/s and the ratios the targets are stated in, then the peak RSS of
a whole sync (both tables, in a child process) at ``--clients`` and at
``--rss-clients``. Figures, not assertions: these machines are shared and noisy,
so only ratios measured in one run mean anything.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boto3.dynamodb.types import TypeSerializer  # noqa: E402

from devstack.seed import seed  # noqa: E402
from devstack.stack import Stack  # noqa: E402
from dynamo.aws import dynamodb_client  # noqa: E402
from dynamo.config import Settings, load_settings  # noqa: E402
from dynamo.extract import open_source  # noqa: E402
from dynamo.query import Insert  # noqa: E402
from dynamo.shape import CLIENTS_INFO_COLUMNS, client_item  # noqa: E402
from dynamo.tables import create_tables  # noqa: E402
from dynamo.views import create_views  # noqa: E402

SQL = f"SELECT {', '.join(CLIENTS_INFO_COLUMNS)} FROM contabyx.clients_info ORDER BY clientid"


def _settings(env: dict[str, str]) -> Settings:
    """The settings of the local stack's environment, without any env file."""
    return load_settings(environ=env, env_file=Path(os.devnull))


def _process_cpu(pid: int) -> float:
    """CPU seconds of a process and its reaped children (PostgreSQL's backends)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds spent by this process and by each server of the stack."""

    def __init__(self, stack: Stack) -> None:
        self.pids = {s.name: s.pid for s in stack.status() if s.pid and s.name != "wire"}

    def read(self) -> dict[str, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        out = {"bench (this process)": own.ru_utime + own.ru_stime}
        out.update({name: _process_cpu(pid) for name, pid in self.pids.items()})
        return out


def fresh_table(client: Any, name: str) -> str:
    if name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)
        client.get_waiter("table_not_exists").wait(TableName=name)
    create_tables(client, name, name + "_y")
    return name


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    started = time.perf_counter()
    items = fn()
    return time.perf_counter() - started, items


def run_ours(client: Any) -> int:
    table = fresh_table(client, "bench_ours")
    return (
        Insert(clients_info_table=table, clients_info_by_year_table=table + "_y")
        .clients_info()
        .items
    )


def run_put_item(client: Any, env: dict[str, str]) -> int:
    table = fresh_table(client, "bench_put_item")
    serialize = TypeSerializer().serialize
    count = 0
    for row in open_source(_settings(env)).rows(SQL):
        item = dict(zip(CLIENTS_INFO_COLUMNS, row))
        client.put_item(TableName=table, Item={k: serialize(v) for k, v in item.items()})
        count += 1
    return count


def run_awswrangler(client: Any, env: dict[str, str]) -> int:
    import awswrangler as wr

    table = fresh_table(client, "bench_wrangler")
    con = wr.data_api.redshift.connect(
        cluster_id=env["CLUSTER"], database=env["DATABASE"], db_user=env["DBUSER"]
    )
    df = wr.data_api.redshift.read_sql_query(SQL, con=con)
    wr.dynamodb.put_df(df=df, table_name=table)
    return len(df)


def run_ceiling(client: Any, items: list[dict[str, Any]], threads: int = 8) -> int:
    table = fresh_table(client, "bench_ceiling")
    batches = [items[i : i + 25] for i in range(0, len(items), 25)]
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                if not batches:
                    return
                batch = batches.pop()
            requests = [{"PutRequest": {"Item": item}} for item in batch]
            while requests:
                answer = client.batch_write_item(RequestItems={table: requests})
                requests = answer.get("UnprocessedItems", {}).get(table, [])

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return len(items)


def peak_rss_of_sync(clients: int, conninfo: str, env: dict[str, str]) -> float:
    """Seed ``clients``, then run a whole sync in a child process; its peak RSS in MiB."""
    seed(conninfo, clients=clients, seed=3)
    client = dynamodb_client(pool=16, retries=True)
    fresh_table(client, "bench_rss")
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child forked from
    # this (large) process would report this process's peak instead of its own.
    code = (
        "from dynamo.query import Insert;"
        "i = Insert(clients_info_table='bench_rss', clients_info_by_year_table='bench_rss_y');"
        "a = i.clients_info(); b = i.clients_info_by_month();"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1];"
        "print(a.items, b.items, hwm)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    mib = int(out[2]) / 1024
    print(f"  sync of {clients} clients: {out[0]} + {out[1]} items, peak RSS {mib:.0f} MiB")
    return mib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--rss-clients", type=int, default=80_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of (a) and (d); median kept")
    args = parser.parse_args()

    stack = Stack()
    env = stack.up()
    os.environ.update(env)
    conninfo = stack.warehouse_conninfo()
    print(f"seeding {args.clients} clients ...")
    seed(conninfo, clients=args.clients, seed=1)
    create_views(open_source(_settings(env)), late_binding=False)
    client = dynamodb_client(pool=16, retries=True)
    rows = list(open_source(_settings(env)).rows(SQL))
    items = [client_item(row, run="bench") for row in rows]

    results: dict[str, float] = {}
    cpu_per_1000: dict[str, dict[str, float]] = {}
    meter = CpuMeter(stack)

    def measure(name: str, fn: Callable[[], int], repeat: int) -> None:
        rates = []
        before = meter.read()
        for _ in range(repeat):
            seconds, count = timed(fn)
            assert count == len(items), f"{name} wrote {count} of {len(items)} items"
            rates.append(count / seconds)
        after = meter.read()
        cpu_per_1000[name] = {
            k: (after[k] - before[k]) * 1000 / (len(items) * repeat) for k in after
        }
        results[name] = statistics.median(rates)
        runs = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"  {name}: {results[name]:,.0f} items/s (runs: {runs})")

    print(f"{len(items)} clients, items/s:")
    measure(
        "(d) ceiling: raw batch_write_item, 8 threads",
        lambda: run_ceiling(client, items),
        args.repeat,
    )
    measure("(a) contabyx Insert().clients_info()", lambda: run_ours(client), args.repeat)
    measure("(b) one put_item per client", lambda: run_put_item(client, env), 1)
    try:
        measure("(c) awswrangler read_sql_query + put_df", lambda: run_awswrangler(client, env), 1)
    except ImportError:
        print("  (c) skipped: awswrangler is not installed (pip install -e '.[bench]')")

    a = results["(a) contabyx Insert().clients_info()"]
    d = results["(d) ceiling: raw batch_write_item, 8 threads"]
    b = results["(b) one put_item per client"]
    c = results.get("(c) awswrangler read_sql_query + put_df")
    print("ratios (target):")
    print(f"  a/b = {a / b:.1f}x (>= 10x)")
    if c is not None:
        print(f"  a/c = {a / c:.2f}x (>= 1.5x)")
    print(f"  a/d = {a / d:.2f}x (>= 0.8x)")

    print("CPU seconds per 1,000 items, by process (2 cores shared by all):")
    for name, cpu in cpu_per_1000.items():
        parts = ", ".join(f"{k} {v:.3f}" for k, v in cpu.items())
        print(f"  {name[:3]}: {parts}, total {sum(cpu.values()):.3f}")

    print("peak RSS of a whole sync (both tables):")
    small = peak_rss_of_sync(args.clients, conninfo, env)
    large = peak_rss_of_sync(args.rss_clients, conninfo, env)
    print(f"  RSS ratio {args.rss_clients}/{args.clients} clients = {large / small:.2f}x (<= 1.3x)")
    cores, python = os.cpu_count(), platform.python_version()
    print(f"machine: {platform.platform()}, {cores} cores, Python {python}")


if __name__ == "__main__":
    main()

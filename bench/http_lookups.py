"""Benchmark of the HTTP API: ``contabyx serve`` against the library in-process.

    python bench/http_lookups.py [--clients 2000] [--concurrency 32] [--seconds 30]

On the local stack, against the same synced tables, one after the other:

(a) in-process: ``--concurrency`` threads sharing one ``contabyxAPI``, each calling
    ``client(id, "by_month")`` on random known ids for ``--seconds``;
(b) HTTP: ``contabyx serve`` in its own process, and ``--concurrency`` keep-alive
    clients (asyncio, in this process) each sending ``GET /clients/{id}?by=month``
    on random known ids for ``--seconds``.

Prints requests/s, p50 and p99 latency and errors for each, the ratio (b) / (a), and
the CPU seconds per 1,000 lookups of this process, of the server and of DynamoDB
Local. Figures, not assertions: the machine is shared and noisy.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the standard library's ``http`` package: drop its folder
# from the path before anything imports ``http.client``.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402

from contabyx import contabyxAPI  # noqa: E402
from devstack.procs import free_port  # noqa: E402
from devstack.seed import seed  # noqa: E402
from devstack.stack import Stack  # noqa: E402
from dynamo.aws import dynamodb_client  # noqa: E402
from dynamo.config import load_settings  # noqa: E402
from dynamo.extract import open_source  # noqa: E402
from dynamo.query import Insert  # noqa: E402
from dynamo.tables import create_tables  # noqa: E402
from dynamo.views import create_views  # noqa: E402

INFO, BY_YEAR = "bench_http_ci", "bench_http_ciby"


def process_cpu(pid: int) -> float:
    """CPU seconds of a process (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:13]) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def dynamodb_local_pid(stack: Stack) -> int | None:
    """The pid of DynamoDB Local (the java process serving the stack's port)."""
    port = os.environ["AWS_ENDPOINT_URL_DYNAMODB"].rsplit(":", 1)[1]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "DynamoDBLocal" in cmdline and f"dynamodb.port={port} " in cmdline:
            return int(entry.name)
    return None


class Result:
    def __init__(self, name: str, latencies: list[float], errors: int, seconds: float) -> None:
        self.name, self.latencies, self.errors, self.seconds = name, latencies, errors, seconds

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000

    def line(self) -> str:
        return (
            f"  {self.name}: {self.rate:,.0f} lookups/s, p50 {self.percentile(0.5):.1f} ms, "
            f"p99 {self.percentile(0.99):.1f} ms, {len(self.latencies):,} ok, "
            f"{self.errors} errors"
        )


def in_process(api: contabyxAPI, ids: list[int], workers: int, seconds: float) -> Result:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def work(n: int) -> None:
        rng = random.Random(n)
        mine: list[float] = []
        failed = 0
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                api.client(rng.choice(ids), "by_month")
            except Exception:
                failed += 1
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    began = time.perf_counter()
    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Result(
        "in-process contabyxAPI.client", latencies, errors[0], time.perf_counter() - began
    )


async def _client(
    port: int, ids: list[int], n: int, stop: float, latencies: list[float], errors: list[int]
) -> None:
    rng = random.Random(1000 + n)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < stop:
            request = (
                f"GET /clients/{rng.choice(ids)}?by=month HTTP/1.1\r\n"
                "Host: 127.0.0.1\r\nAccept: application/json\r\n\r\n"
            )
            started = time.perf_counter()
            writer.write(request.encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = await reader.readexactly(length)
            if status == 200 and body.startswith(b'{"clientid":"'):
                latencies.append(time.perf_counter() - started)
            else:
                errors[0] += 1
    finally:
        writer.close()


def over_http(port: int, ids: list[int], clients: int, seconds: float) -> Result:
    latencies: list[float] = []
    errors = [0]

    async def run() -> None:
        stop = time.perf_counter() + seconds
        await asyncio.gather(
            *(_client(port, ids, n, stop, latencies, errors) for n in range(clients))
        )

    began = time.perf_counter()
    asyncio.run(run())
    return Result(
        "HTTP GET /clients/{id}?by=month", latencies, errors[0], time.perf_counter() - began
    )


def serve(port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "contabyx.cli",
            "--clients-info-table",
            INFO,
            "--clients-info-by-year-table",
            BY_YEAR,
            "serve",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("contabyx serve did not start")


def measured(
    name: str, pids: dict[str, int | None], run: Callable[[], Result]
) -> tuple[Result, dict[str, float]]:
    before = {k: process_cpu(p) for k, p in pids.items() if p}
    mine = self_cpu()
    result = run()
    cpu = {"this process": self_cpu() - mine}
    cpu.update({k: process_cpu(p) - before[k] for k, p in pids.items() if p})
    print(result.line())
    per = len(result.latencies) / 1000 or 1
    print("    CPU s per 1,000: " + ", ".join(f"{k} {v / per:.3f}" for k, v in cpu.items()))
    return result, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()

    stack = Stack()
    env = stack.up()
    os.environ.update(env)
    seed(stack.warehouse_conninfo(), clients=args.clients, seed=9)
    create_views(
        open_source(load_settings(environ=env, env_file=Path(os.devnull))), late_binding=False
    )
    create_tables(dynamodb_client(retries=True), INFO, BY_YEAR)
    insert = Insert(clients_info_table=INFO, clients_info_by_year_table=BY_YEAR)
    ids = list(insert.clients_info().clientids)
    insert.clients_info_by_month()
    dynamodb = dynamodb_local_pid(stack)

    port = free_port()
    server = serve(port)
    try:
        api = contabyxAPI(clients_info_table=INFO, clients_info_by_year_table=BY_YEAR)
        # Warm up both: connection pools, DynamoDB Local's JIT.
        in_process(api, ids, args.concurrency, 3)
        over_http(port, ids, args.concurrency, 3)
        print(
            f"{len(ids):,} clients; {args.concurrency} concurrent callers for "
            f"{args.seconds:.0f} s each:"
        )
        local, _ = measured(
            "in-process",
            {"DynamoDB Local": dynamodb},
            lambda: in_process(api, ids, args.concurrency, args.seconds),
        )
        remote, _ = measured(
            "http",
            {"server": server.pid, "DynamoDB Local": dynamodb},
            lambda: over_http(port, ids, args.concurrency, args.seconds),
        )
        print(f"ratio: {remote.rate / local.rate:.2f}x lookups/s (target >= 0.7x)")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()

"""The fault proxy against DynamoDB Local, then the whole sync through it.

Every check of what was written reads DynamoDB Local directly, never through the
proxy. The sync tests are the issue's: with 30% of the writes throttled, 30%
answered as partial batches and 2% of the connections dropped, every item ends
up present and equal to an independent computation from the source rows, and
the sync's summary accounts for every retry the faults caused.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError

from devstack.faults import BATCH_WRITE_ITEM, FaultProxy, Faults
from devstack.paths import REPO_ROOT, python_env
from devstack.procs import free_port
from devstack.seed import seed
from dynamo.extract import open_source
from dynamo.load import WriteError
from dynamo.query import Insert
from dynamo.sync import SyncResult
from dynamo.tables import create_tables
from dynamo.views import create_views
from tests.support.compare import by_year_differences, clients_info_differences, scan
from tests.support.expected import ClientFigures, from_warehouse
from tests.support.settings import settings_of

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
UNIT_TABLES = ("faults_unit_a", "faults_unit_b")
#: The issue's mix: 30% throttled (both throttling codes DynamoDB answers),
#: 30% partial batches, 2% dropped connections (half of them after the write).
SYNC_FAULTS = Faults(
    throttle=0.2, throttling=0.1, partial_batch=0.3, drop=0.01, drop_after_forward=0.01
)


def _client(endpoint_url: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint_url, config=NO_RETRIES)


def _fresh_tables(client: Any, *names: str) -> None:
    existing = set(client.list_tables()["TableNames"])
    for name in names:
        if name in existing:  # a stack reused from an earlier run
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
    create_tables(client, *names)


def _put(key: int) -> dict[str, Any]:
    return {"PutRequest": {"Item": {"clientid": {"N": str(key)}, "v": {"S": f"value {key}"}}}}


def _keys(requests: list[dict[str, Any]]) -> set[int]:
    return {int(r["PutRequest"]["Item"]["clientid"]["N"]) for r in requests}


def _stored_keys(client: Any, table: str) -> set[int]:
    return set(scan(client, table))


@pytest.fixture(scope="module")
def dynamodb_url(local_stack: Any) -> str:
    return str(local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"])


@pytest.fixture()
def direct(dynamodb_url: str) -> Iterator[Any]:
    """A client straight to DynamoDB Local, with both unit tables empty."""
    client = _client(dynamodb_url)
    _fresh_tables(client, *UNIT_TABLES)
    yield client


def _raw_answers(client: Any) -> list[tuple[dict[str, str], bytes]]:
    """Record the raw headers and body of every answer ``client`` receives."""
    seen: list[tuple[dict[str, str], bytes]] = []

    def record(http_response: Any, **_: Any) -> None:
        seen.append((dict(http_response.headers), http_response.content))

    client.meta.events.register("after-call.dynamodb", record)
    return seen


# --------------------------------------------------------------------------- the proxy itself


@pytest.mark.parametrize(
    ("faults", "code", "status", "kind"),
    [
        (Faults(throttle=1.0), "ProvisionedThroughputExceededException", 400, "throttled"),
        (Faults(throttling=1.0), "ThrottlingException", 400, "throttling"),
        (Faults(server_error=1.0), "InternalServerError", 500, "server_error"),
    ],
)
def test_every_request_becomes_the_error_botocore_expects(
    direct: Any, dynamodb_url: str, faults: Faults, code: str, status: int, kind: str
) -> None:
    table = UNIT_TABLES[0]
    calls: list[Callable[[Any], Any]] = [
        lambda c: c.put_item(TableName=table, Item=_put(1)["PutRequest"]["Item"]),
        lambda c: c.get_item(TableName=table, Key={"clientid": {"N": "1"}}),
        lambda c: c.batch_write_item(RequestItems={table: [_put(2), _put(3)]}),
        lambda c: c.describe_table(TableName=table),
    ]
    with FaultProxy(dynamodb_url, faults) as proxy:
        client = _client(proxy.url)
        answers = _raw_answers(client)
        for call in calls:
            with pytest.raises(ClientError) as caught:
                call(client)
            assert caught.value.response["Error"]["Code"] == code
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
            assert client.exceptions.from_code(code) is type(caught.value)
    counts = proxy.counts
    assert counts["requests"] == counts[kind] == len(calls)
    assert counts["forwarded"] == 0
    # DynamoDB's checksum, which botocore verifies, matches every body the proxy made.
    assert len(answers) == len(calls)
    for headers, body in answers:
        assert int(headers["x-amz-crc32"]) == zlib.crc32(body)
        assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert _stored_keys(direct, table) == set()


def test_a_dropped_connection_writes_nothing(direct: Any, dynamodb_url: str) -> None:
    table = UNIT_TABLES[0]
    with FaultProxy(dynamodb_url, Faults(drop=1.0)) as proxy:
        client = _client(proxy.url)
        with pytest.raises(ConnectionClosedError):
            client.batch_write_item(RequestItems={table: [_put(1), _put(2)]})
    assert proxy.counts["dropped"] == proxy.counts["requests"] == 1
    assert _stored_keys(direct, table) == set()


def test_a_connection_dropped_after_forwarding_has_written(direct: Any, dynamodb_url: str) -> None:
    table = UNIT_TABLES[0]
    with FaultProxy(dynamodb_url, Faults(drop_after_forward=1.0)) as proxy:
        client = _client(proxy.url)
        with pytest.raises(ConnectionClosedError):
            client.batch_write_item(RequestItems={table: [_put(1), _put(2)]})
    assert proxy.counts["dropped_after_forward"] == proxy.counts["requests"] == 1
    # The client does not know, but the write happened.
    assert _stored_keys(direct, table) == {1, 2}


def test_partial_batches_forward_part_and_return_the_rest(direct: Any, dynamodb_url: str) -> None:
    a, b = UNIT_TABLES
    sent = {a: [_put(k) for k in range(100, 115)], b: [_put(k) for k in range(200, 210)]}
    with FaultProxy(dynamodb_url, Faults(partial_batch=1.0, seed=7)) as proxy:
        client = _client(proxy.url)
        answers = _raw_answers(client)
        response = client.batch_write_item(RequestItems=sent)
        lone = client.batch_write_item(RequestItems={a: [_put(999)]})
    unprocessed = response["UnprocessedItems"]
    assert set(unprocessed) == {a, b}
    for table, requests in sent.items():
        held = _keys(unprocessed[table])
        # A non-empty proper subset is held back; exactly the rest was written.
        assert held and held < _keys(requests)
        assert _stored_keys(direct, table) == _keys(requests) - held | (
            {999} if table == a else set()
        )
    # A batch of one request cannot be split: it is forwarded whole.
    assert lone["UnprocessedItems"] == {}
    counts = proxy.counts
    assert counts["partial"] == 1 and counts["forwarded"] == 1 and counts["requests"] == 2
    assert counts["held_back"] == sum(len(r) for r in unprocessed.values())
    headers, body = answers[0]
    assert int(headers["x-amz-crc32"]) == zlib.crc32(body)
    assert json.loads(body)["UnprocessedItems"] == unprocessed


def test_the_same_seed_injects_the_same_faults(direct: Any, dynamodb_url: str) -> None:
    def run() -> list[str]:
        faults = Faults(throttle=0.3, partial_batch=0.3, drop=0.1, seed=42)
        outcomes = []
        with FaultProxy(dynamodb_url, faults) as proxy:
            client = _client(proxy.url)
            for n in range(40):
                batch = [_put(1000 + n * 3 + i) for i in range(3)]
                try:
                    left = client.batch_write_item(RequestItems={UNIT_TABLES[0]: batch})
                    outcomes.append(f"ok {len(left['UnprocessedItems'].get(UNIT_TABLES[0], []))}")
                except ClientError as exc:
                    outcomes.append(exc.response["Error"]["Code"])
                except ConnectionClosedError:
                    outcomes.append("dropped")
        return outcomes

    first = run()
    assert first == run()
    assert {"ok 0", "dropped", "ProvisionedThroughputExceededException"} <= set(first)
    assert any(o.startswith("ok ") and o != "ok 0" for o in first)


def test_many_concurrent_clients_over_kept_alive_connections(
    direct: Any, dynamodb_url: str
) -> None:
    table, threads, each = UNIT_TABLES[1], 16, 25
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, max_pool_connections=16)
    errors: list[BaseException] = []
    with FaultProxy(dynamodb_url) as proxy:
        client = boto3.client("dynamodb", endpoint_url=proxy.url, config=config)

        def work(n: int) -> None:
            try:
                for i in range(each):
                    client.put_item(TableName=table, Item=_put(n * 1000 + i)["PutRequest"]["Item"])
            except BaseException as exc:  # reported below
                errors.append(exc)

        pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(60)
    assert errors == []
    counts = proxy.counts
    assert counts["requests"] == counts["forwarded"] == threads * each
    assert counts["connections"] <= threads  # one pooled connection per thread at most
    assert _stored_keys(direct, table) == {
        n * 1000 + i for n in range(threads) for i in range(each)
    }


def test_the_command_line_proxy(direct: Any, dynamodb_url: str) -> None:
    argv = [sys.executable, "-m", "devstack.faults", "--upstream", dynamodb_url]
    argv += ["--port", str(free_port()), "--throttle", "1.0", "--seed", "3"]
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, text=True, env=python_env(), cwd=REPO_ROOT
    ) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            url = banner.split()[3]
            assert banner.startswith("fault proxy on http://127.0.0.1:"), banner
            with pytest.raises(ClientError, match="ProvisionedThroughputExceeded"):
                _client(url).put_item(TableName=UNIT_TABLES[0], Item=_put(1)["PutRequest"]["Item"])
        finally:
            process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts["requests"] == counts["throttled"] == 1
    assert _stored_keys(direct, UNIT_TABLES[0]) == set()


def test_the_proxy_talks_to_the_loopback_interface_only() -> None:
    for upstream in ("http://10.0.0.1:8000", "http://example.com", "https://127.0.0.1:8000"):
        with pytest.raises(ValueError, match="loopback"):
            FaultProxy(upstream)
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("http://127.0.0.1:8000", host="0.0.0.0")
    with pytest.raises(ValueError, match="more than 1"):
        Faults(throttle=0.6, partial_batch=0.6)


# --------------------------------------------------------------------------- the sync under faults


def _check_accounting(
    result: SyncResult, counts: dict[str, int], by_target: dict[str, int]
) -> None:
    """What the writer reports against what the proxy injected: exact, because
    DynamoDB Local itself never throttles nor leaves items unprocessed."""
    stats = result.stats
    assert set(by_target) == {BATCH_WRITE_ITEM}
    assert counts["upstream_error"] == 0
    assert stats["requests"] == counts["requests"] == by_target[BATCH_WRITE_ITEM]
    assert stats["throttled"] == counts["throttled"] + counts["throttling"]
    assert stats["server_errors"] == counts["server_error"]
    assert stats["connection_errors"] == counts["dropped"] + counts["dropped_after_forward"]
    assert stats["unprocessed"] == counts["held_back"]
    # Every failed attempt (an error, a drop, a partial answer) is retried once.
    failed = sum(
        counts[k]
        for k in ("throttled", "throttling", "server_error", "dropped", "dropped_after_forward")
    )
    assert result.retries == failed + counts["partial"] > 0
    assert result.summary()["retries"] == result.retries
    # Each batch ends with exactly one attempt answered in full.
    assert stats["requests"] - result.retries == counts["forwarded"]
    assert counts["forwarded"] >= -(-result.items // 25)


def _sync_under_faults(
    local_stack: Any, warehouse: Any, clients: int, seed_value: int
) -> dict[str, Any]:
    started = time.monotonic()
    seed(local_stack.conninfo, clients=clients, seed=seed_value, years=(2015, 2026))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    tables = {"clients_info_table": "faults_ci", "clients_info_by_year_table": "faults_ciby"}
    direct = _client(local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"])
    _fresh_tables(direct, *tables.values())
    expected: dict[int, ClientFigures] = from_warehouse(warehouse)
    prepared = time.monotonic() - started

    figures: dict[str, Any] = {"clients": clients, "expected_items": len(expected)}
    results: dict[str, SyncResult] = {}
    upstream = local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"]
    for n, name in enumerate(("clients_info", "clients_info_by_month")):
        faults = dataclasses.replace(SYNC_FAULTS, seed=seed_value * 10 + n)
        with FaultProxy(upstream, faults) as proxy:
            insert = Insert(**tables, endpoint_url=proxy.url, max_retries=30)
            result = insert.clients_info() if n == 0 else insert.clients_info_by_month()
            insert.close()
        results[name] = result
        figures[name] = {
            "seconds": round(result.seconds, 1),
            "items": result.items,
            "retries": result.retries,
            "writer": {k: v for k, v in result.stats.items() if k not in ("items", "deleted")},
            "proxy": {k: v for k, v in proxy.counts.items() if v},
        }
        _check_accounting(result, proxy.counts, proxy.by_target)

    stored_ci = scan(direct, tables["clients_info_table"])
    stored_by = scan(direct, tables["clients_info_by_year_table"])
    figures["found_items"] = {
        "clients_info": len(stored_ci),
        "clients_info_by_year": len(stored_by),
    }
    figures["prepare_seconds"] = round(prepared, 1)
    figures["total_seconds"] = round(time.monotonic() - started, 1)
    print("\nsync under faults:", json.dumps(figures, indent=1))

    for name, result in results.items():
        assert result.clientids == sorted(expected), name
        assert result.items == len(expected), name
    problems = clients_info_differences(stored_ci, expected)
    assert not problems, f"{len(problems)} differences in clients_info: {problems[:10]}"
    problems = by_year_differences(stored_by, expected)
    assert not problems, f"{len(problems)} differences in clients_info_by_year: {problems[:10]}"
    return figures


def test_a_sync_of_1000_clients_under_faults_is_complete_and_exact(
    local_stack: Any, warehouse: Any
) -> None:
    figures = _sync_under_faults(local_stack, warehouse, clients=1000, seed_value=5)
    assert figures["expected_items"] > 900


@pytest.mark.soak
def test_a_sync_of_5000_clients_under_faults_is_complete_and_exact(
    local_stack: Any, warehouse: Any
) -> None:
    figures = _sync_under_faults(local_stack, warehouse, clients=5000, seed_value=3)
    assert figures["expected_items"] > 4500


def test_a_run_that_gives_up_says_how_far_it_got(local_stack: Any, warehouse: Any) -> None:
    seed(local_stack.conninfo, clients=400, seed=77, years=(2020, 2022))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    expected = from_warehouse(warehouse)
    tables = {"clients_info_table": "faults_gaveup_ci", "clients_info_by_year_table": "faults_gu_y"}
    direct = _client(local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"])
    _fresh_tables(direct, *tables.values())
    # Every write is throttled and no retry is allowed: the run stops at its first batch.
    rule_faults = Faults(throttle=1.0, seed=1, targets=(BATCH_WRITE_ITEM,))
    with FaultProxy(local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"], rule_faults) as proxy:
        insert = Insert(**tables, endpoint_url=proxy.url, max_retries=0, chunk_clients=100)
        with pytest.raises(WriteError) as caught:
            insert.clients_info()
        insert.close()
    text = str(caught.value)
    print(f"\ngave up: {text[:300]}")
    stored = _stored_keys(direct, tables["clients_info_table"])
    assert f"the run stopped after writing {len(stored)} of {len(expected)} clients" in text
    assert "re-run it to complete them" in text
    assert set(caught.value.not_written["faults_gaveup_ci"]).isdisjoint(stored)
    assert "\n" not in text

"""The sync with the fault proxy in front of the Data API emulator.

A statement that ends FAILED or ABORTED, one that never finishes, a
ValidationException, an expired paging token: each time the run stops with an
:class:`ExtractError` whose text is one line naming the statement (its id, taken
from what the proxy injected) and its error. Throttling, 5xx answers and dropped
connections on the Data API are absorbed by botocore's retries: that run ends
with every item equal to the source.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devstack.faults import DESCRIBE_STATEMENT, FaultProxy, Faults, Injection, Rule
from devstack.seed import seed
from dynamo.extract import ExtractError, open_source
from dynamo.query import Insert
from dynamo.tables import create_tables
from dynamo.views import create_views
from tests.support.compare import by_year_differences, clients_info_differences, scan
from tests.support.expected import ClientFigures, from_warehouse
from tests.support.settings import settings_of

CLIENTS = 300
TABLES = {"clients_info_table": "faults_api_ci", "clients_info_by_year_table": "faults_api_ciby"}
#: Small ranges: several statements in flight, each month range over several pages.
SETTINGS: dict[str, Any] = {**TABLES, "chunk_clients": 100, "readers": 3}
EXECUTE = "RedshiftData.ExecuteStatement"
GET_RESULT = "RedshiftData.GetStatementResult"
CANCEL = "RedshiftData.CancelStatement"
#: Only the range statements of the sync bind :low.
RANGE_SQL = "CAST(:low AS BIGINT)"


@pytest.fixture(scope="module")
def expected(local_stack: Any, warehouse: Any) -> dict[int, ClientFigures]:
    seed(local_stack.conninfo, clients=CLIENTS, seed=21, years=(2015, 2026))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    client = boto3.client("dynamodb", endpoint_url=local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"])
    existing = client.list_tables()["TableNames"]
    for name in TABLES.values():
        if name in existing:  # a stack reused from an earlier run
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(TableName=name)
    create_tables(client, *TABLES.values())
    return from_warehouse(warehouse)


@pytest.fixture()
def proxy(
    local_stack: Any, expected: dict[int, ClientFigures], monkeypatch: pytest.MonkeyPatch
) -> Iterator[FaultProxy]:
    """A proxy in front of the Data API emulator, which the sync's client then uses."""
    with FaultProxy(local_stack.env["AWS_ENDPOINT_URL_REDSHIFT_DATA"]) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REDSHIFT_DATA", running.url)
        yield running


def _run_fails(insert: Insert, by_month: bool = True) -> str:
    with insert, pytest.raises(ExtractError) as caught:
        insert.clients_info_by_month() if by_month else insert.clients_info()
    text = str(caught.value)
    assert "\n" not in text and text == text.strip()
    return text


def _injected(proxy: FaultProxy, fault: str) -> list[Injection]:
    return [i for i in proxy.injections if i.fault == fault]


def _names_the_statement(text: str, injection: Injection) -> None:
    assert injection.statement_id, injection
    assert f"statement {injection.statement_id} " in text
    assert "[sql: " in text


def test_a_range_statement_that_fails(proxy: FaultProxy) -> None:
    # One of the range statements, read in the reader threads (the plan has no :low).
    proxy.add_rule(
        Rule.statement_status(
            "FAILED", "ERROR: division by zero (injected)", limit=1, sql_contains=RANGE_SQL
        )
    )
    text = _run_fails(Insert(**SETTINGS))
    [injection] = _injected(proxy, "status")
    _names_the_statement(text, injection)
    assert "FAILED: ERROR: division by zero (injected)" in text
    assert "[sql: SELECT clientid, year, month, " in text


def test_a_statement_that_is_aborted(proxy: FaultProxy) -> None:
    proxy.add_rule(Rule.statement_status("ABORTED", "Query cancelled by the operator", limit=1))
    text = _run_fails(Insert(**SETTINGS))
    [injection] = _injected(proxy, "status")
    _names_the_statement(text, injection)
    # The first statement described is the snapshot of the view (one batch).
    assert (
        "ABORTED: Query cancelled by the operator"
        " [sql: DELETE FROM contabyx_sync.clients_info_by_month (+3 more)]"
    ) in text


def test_a_statement_that_never_finishes_times_out_and_is_cancelled(proxy: FaultProxy) -> None:
    proxy.add_rule(Rule.statement_status("STARTED"))
    started = time.monotonic()
    text = _run_fails(Insert(**SETTINGS, statement_timeout=2))
    elapsed = time.monotonic() - started
    injections = _injected(proxy, "status")
    # The snapshot runs first and alone: it is the statement that never finished.
    assert len({i.statement_id for i in injections}) == 1
    _names_the_statement(text, injections[0])
    assert "timed out after 2 s and was cancelled" in text
    assert elapsed >= 2
    assert proxy.by_target[CANCEL] == 1


def test_a_failed_statement_cancels_the_others_in_flight(proxy: FaultProxy) -> None:
    proxy.add_rule(Rule.statement_status("FAILED", "disk full", sql_contains=RANGE_SQL, limit=1))
    proxy.add_rule(Rule.statement_status("STARTED", sql_contains=RANGE_SQL))
    # Were the stuck statements awaited, this would take the whole timeout.
    text = _run_fails(Insert(**SETTINGS, statement_timeout=900))
    [failed] = [i for i in _injected(proxy, "status") if i.detail == "FAILED"]
    _names_the_statement(text, failed)
    assert "FAILED: disk full" in text
    stuck = {i.statement_id for i in _injected(proxy, "status")} - {failed.statement_id}
    assert stuck and proxy.by_target[CANCEL] == len(stuck)


def test_a_validation_exception(proxy: FaultProxy) -> None:
    proxy.add_rule(
        Rule.error(DESCRIBE_STATEMENT, "ValidationException", "Id is not valid (injected)", limit=1)
    )
    text = _run_fails(Insert(**SETTINGS))
    [injection] = _injected(proxy, "error")
    _names_the_statement(text, injection)
    assert "DescribeStatement failed: ValidationException: Id is not valid (injected)" in text


def test_an_expired_paging_token(proxy: FaultProxy) -> None:
    proxy.add_rule(Rule.expired_token(limit=1))
    text = _run_fails(Insert(**SETTINGS))
    [injection] = _injected(proxy, "error")
    assert injection.target.startswith(GET_RESULT)
    _names_the_statement(text, injection)
    assert "failed: ValidationException: The NextToken has expired or is invalid." in text


def test_a_statement_refused_before_it_has_an_id(proxy: FaultProxy) -> None:
    proxy.add_rule(Rule.error(EXECUTE, "ValidationException", "SQL is too long", limit=1))
    text = _run_fails(Insert(**SETTINGS), by_month=False)
    [injection] = _injected(proxy, "error")
    assert injection.statement_id is None
    assert text.startswith("statement (not submitted) ExecuteStatement failed: ")
    assert "ValidationException: SQL is too long [sql: SELECT " in text


def test_throttling_errors_and_drops_on_the_data_api_are_retried(
    local_stack: Any, expected: dict[int, ClientFigures], monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = Faults(
        throttle=0.1,
        server_error=0.05,
        drop=0.03,
        drop_after_forward=0.03,
        seed=4,
        targets=(EXECUTE, DESCRIBE_STATEMENT, GET_RESULT, GET_RESULT + "V2"),
    )
    upstream = local_stack.env["AWS_ENDPOINT_URL_REDSHIFT_DATA"]
    with FaultProxy(upstream, faults) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REDSHIFT_DATA", proxy.url)
        with Insert(**SETTINGS) as insert:
            info = insert.clients_info()
            by_year = insert.clients_info_by_month()
    counts = proxy.counts
    print(f"\ndata api faults retried: {len(expected)} clients, proxy {counts}")
    assert counts["throttled"] and counts["server_error"]
    assert counts["dropped"] + counts["dropped_after_forward"]
    assert info.clientids == by_year.clientids == sorted(expected)
    client = boto3.client("dynamodb", endpoint_url=local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"])
    problems = clients_info_differences(scan(client, TABLES["clients_info_table"]), expected)
    problems += by_year_differences(scan(client, TABLES["clients_info_by_year_table"]), expected)
    assert not problems, problems[:10]

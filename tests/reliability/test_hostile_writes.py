"""Hostile days on the write side (issue 10, items 1, 4 and 6; issue 9, item 5).

Each test reproduces a row of the issue's table on the local stack and checks
the outcome the issue asks for: nothing deleted because of a bad read, one bad
client never blocks the others, every error says what will fix it, nothing
waits forever.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from devstack.faults import DYNAMODB_PREFIX, FaultProxy, Faults
from devstack.seed import seed
from dynamo.extract import open_source
from dynamo.prune import stored_clientids
from dynamo.views import create_views
from tests.support.compare import scan
from tests.support.settings import settings_of
from tests.support.silent import SilentServer
from tests.support.synced import etl, fresh_tables, seeded, sync_table

#: A run that completed but could not store some clients (documented in the CLI).
EXIT_REJECTED = 3


def stored(tables: tuple[str, ...]) -> list[set[int]]:
    client = boto3.client("dynamodb")
    return [set(scan(client, table)) for table in tables]


# --------------------------------------------------------------------------- deletion guard


def test_an_empty_source_prunes_nothing(local_stack: Any, warehouse: Any) -> None:
    tables = ("hostile_prune_ci", "hostile_prune_ciby")
    before = seeded(local_stack, warehouse, clients=60, seed=3, years=(2020, 2022))
    fresh_tables(*tables)
    assert etl(tables, "run").returncode == 0
    # A warehouse reload in progress: the transactions table is empty.
    with warehouse.cursor() as cur:
        cur.execute("CREATE TEMP TABLE saved AS SELECT * FROM contabyx.transactions")
        cur.execute("DELETE FROM contabyx.transactions")
        try:
            refused = etl(tables, "run", "--prune")
            share = etl(tables, "run", "--prune", PRUNE_MAX_SHARE="1")
        finally:
            cur.execute("INSERT INTO contabyx.transactions SELECT * FROM saved")
            cur.execute("DROP TABLE saved")
    assert refused.returncode == 1, refused.stdout
    n = len(before)
    assert f"would delete {n} of the {n} stored clients" in refused.stderr
    assert "--allow-mass-delete" in refused.stderr
    # Even a share of 100% does not delete on an empty read.
    assert share.returncode == 1 and "returned no clients" in share.stderr
    assert stored(tables) == [set(before), set(before)]


def test_pruning_more_than_the_share_needs_confirmation(local_stack: Any, warehouse: Any) -> None:
    tables = ("hostile_share_ci", "hostile_share_ciby")
    before = seeded(local_stack, warehouse, clients=60, seed=4, years=(2020, 2022))
    fresh_tables(*tables)
    assert etl(tables, "run").returncode == 0
    gone = sorted(before)[:6]  # 10% of the clients, over the default 5%
    with warehouse.cursor() as cur:
        cur.execute("DELETE FROM contabyx.transactions WHERE clientid = ANY(%s)", (gone,))
    refused = etl(tables, "run", "--prune")
    assert refused.returncode == 1
    assert f"would delete {len(gone)} of the {len(before)} stored clients" in refused.stderr
    # Neither table was pruned: the guard is checked for both before any deletion.
    assert stored(tables) == [set(before), set(before)]
    done = etl(tables, "run", "--prune", "--allow-mass-delete", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert [summary["tables"][t]["pruned"] for t in tables] == [len(gone), len(gone)]
    want = set(before) - set(gone)
    assert stored(tables) == [want, want]


def test_a_throttled_prune_scan_is_retried(local_stack: Any, warehouse: Any) -> None:
    table = "hostile_scan"
    fresh_tables(table, "hostile_scan_unused")
    client = boto3.client("dynamodb")
    for clientid in range(300):
        client.put_item(TableName=table, Item={"clientid": {"N": str(clientid)}})
    faults = Faults(throttle=0.5, seed=2, targets=(DYNAMODB_PREFIX + "Scan",))
    with FaultProxy(local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"], faults) as proxy:
        config = Config(retries={"mode": "standard", "total_max_attempts": 1})
        through = boto3.client("dynamodb", endpoint_url=proxy.url, config=config)
        ids = stored_clientids(through, table, max_retries=20, page_size=50)
    assert sorted(ids) == list(range(300))
    assert proxy.counts["throttled"] > 0


# --------------------------------------------------------------------------- one bad client


def _grow_past_400kb(warehouse: Any, clientid: int) -> None:
    """Give ``clientid`` 526 years of monthly income: its by-year item passes 400 KB."""
    with warehouse.cursor() as cur:
        cur.execute("SELECT typeid FROM contabyx.transactiontypes WHERE nature = 'income' LIMIT 1")
        row = cur.fetchone()
        assert row is not None
        cur.execute(
            "INSERT INTO contabyx.transactions"
            " SELECT 900000000 + n, %s, %s, make_timestamp(1500 + n / 12, 1 + n %% 12, 1, 0, 0, 0),"
            " 1.00 FROM generate_series(0, 526 * 12 - 1) AS n",
            (clientid, row[0]),
        )


def _shrink_back(warehouse: Any) -> None:
    with warehouse.cursor() as cur:
        cur.execute("DELETE FROM contabyx.transactions WHERE transactionid >= 900000000")


def test_an_item_over_400kb_is_rejected_alone(local_stack: Any, warehouse: Any) -> None:
    tables = ("hostile_big_ci", "hostile_big_ciby")
    before = seeded(local_stack, warehouse, clients=60, seed=5, years=(2020, 2022))
    big = sorted(before)[7]  # in the middle of the first batch
    _grow_past_400kb(warehouse, big)
    try:
        fresh_tables(*tables)
        done = etl(tables, "run")
    finally:
        _shrink_back(warehouse)
    assert done.returncode == EXIT_REJECTED, done.stderr
    info, by_year = stored(tables)
    assert info == set(before)
    assert by_year == set(before) - {big}
    line = done.stdout.strip()
    assert f"rejected clients: {big} (" in line and "400 KB" in line, line
    assert "re-run" not in done.stdout + done.stderr


def test_prune_keeps_the_old_item_of_a_rejected_client(local_stack: Any, warehouse: Any) -> None:
    """A client rejected by a run is still in the source: its last good item stays."""
    tables = ("hostile_keep_ci", "hostile_keep_ciby")
    before = seeded(local_stack, warehouse, clients=60, seed=5, years=(2020, 2022))
    big = sorted(before)[7]
    fresh_tables(*tables)
    first = etl(tables, "run")
    assert first.returncode == 0, first.stderr
    _grow_past_400kb(warehouse, big)
    try:
        done = etl(tables, "run", "--prune")
    finally:
        _shrink_back(warehouse)
    assert done.returncode == EXIT_REJECTED, done.stderr
    info, by_year = stored(tables)
    assert info == set(before)
    assert by_year == set(before), "the rejected client's by-year item was pruned"


# --------------------------------------------------------------------------- messages


def test_missing_tables_say_create_the_tables(local_stack: Any, warehouse: Any) -> None:
    seed(local_stack.conninfo, clients=30, seed=6, years=(2021, 2022))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    tables = ("hostile_absent_ci", "hostile_absent_ciby")
    client = boto3.client("dynamodb")
    if sync_table(tables) in client.list_tables()["TableNames"]:  # a reused stack
        client.delete_table(TableName=sync_table(tables))
        client.get_waiter("table_not_exists").wait(TableName=sync_table(tables))
    # None of the three: the run stops at the first, the sync's own, before any work.
    done = etl(tables, "run")
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert f"the sync's table {sync_table(tables)} does not exist" in line
    assert "run contabyx-etl create-tables" in line
    # The sync's table only: the load says the same of the table it writes.
    client.create_table(
        TableName=sync_table(tables),
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    done = etl(tables, "run")
    assert done.returncode == 1
    assert "ResourceNotFoundException" in done.stderr
    assert "create the tables (contabyx-etl create-tables)" in done.stderr
    assert "re-run" not in done.stderr


def test_bad_credentials_say_check_the_credentials(local_stack: Any, warehouse: Any) -> None:
    tables = ("hostile_creds_ci", "hostile_creds_ciby")
    seed(local_stack.conninfo, clients=30, seed=6, years=(2021, 2022))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    fresh_tables(*tables)
    # DynamoDB Local refuses an access key id that is not alphanumeric, as AWS
    # refuses an unknown one: UnrecognizedClientException.
    done = etl(tables, "run", "--table", "clients_info", AWS_ACCESS_KEY_ID="not-a-key!")
    assert done.returncode == 1
    assert "UnrecognizedClientException" in done.stderr, done.stderr
    assert "check the credentials" in done.stderr
    assert "re-run" not in done.stderr


# --------------------------------------------------------------------------- silent endpoint


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    with SilentServer() as server:
        yield server.url


def test_a_silent_dynamodb_fails_the_run_with_one_line(
    local_stack: Any, warehouse: Any, silent_endpoint: str
) -> None:
    seed(local_stack.conninfo, clients=30, seed=6, years=(2021, 2022))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    done = etl(
        ("hostile_silent_ci", "hostile_silent_ciby"),
        "--log-level",
        "INFO",
        "run",
        "--table",
        "clients_info",
        timeout=600,
        AWS_ENDPOINT_URL_DYNAMODB=silent_endpoint,
        AWS_READ_TIMEOUT="1",
        AWS_CONNECT_TIMEOUT="1",
    )
    assert done.returncode == 1
    error = [line for line in done.stderr.splitlines() if line.startswith("contabyx-etl: error")]
    assert len(error) == 1, done.stderr
    assert "did not answer" in error[0] and silent_endpoint in error[0]
    assert "re-run" in error[0]
    # Each retry is logged at INFO with its reason (the first call, which times out, is
    # the one that takes the sync's lease: botocore retries it, each failed attempt logged).
    retries = [
        line
        for line in done.stderr.splitlines()
        if " INFO " in line and ("retry" in line or "attempt" in line)
    ]
    assert retries and all("timeout" in line.lower() for line in retries), done.stderr


# --------------------------------------------------------------------------- DynamoDB's limits


@pytest.mark.parametrize(
    ("number", "storable"),
    [
        ("1" * 38, True),
        ("1" * 38 + "000", True),  # trailing zeroes are not significant
        ("0.000" + "1" * 38, True),  # nor leading ones
        ("1" * 39, False),
        ("1E+125", True),
        ("1E+126", False),
        ("1E-130", True),
        ("1E-131", False),
    ],
)
def test_shaping_refuses_the_numbers_dynamodb_refuses(
    local_stack: Any, number: str, storable: bool
) -> None:
    """The stand-in and the shaping agree on DynamoDB's documented Number limits."""
    from decimal import Decimal

    from botocore.exceptions import ClientError

    from dynamo.shape import ShapeError, client_item

    table = "hostile_numbers"
    client = boto3.client("dynamodb")
    if table not in client.list_tables()["TableNames"]:
        fresh_tables(table, "hostile_numbers_unused")
    value = Decimal(number)
    row = (1, value, value, Decimal(0), 1, 0)
    try:
        item = client_item(row, run="2026-11-28T02:00:00Z-000000")
        shaped = True
    except ShapeError:
        item, shaped = client_item((1, 0, 0, 0, 1, 0), run="x"), False
        item["income"] = {"N": number}
    try:
        client.put_item(TableName=table, Item=item)
        stored = True
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "ValidationException"
        stored = False
    assert (shaped, stored) == (storable, storable)


def test_item_size_agrees_with_dynamodb_at_the_400kb_limit(local_stack: Any) -> None:
    """The largest item our count allows is stored; one element more is refused."""
    from botocore.exceptions import ClientError

    from dynamo.shape import MAX_ITEM_BYTES, item_size

    def nested(n: int) -> dict[str, Any]:
        months = {f"k{i:05d}": {"M": {"income": {"N": "1234567.89"}}} for i in range(n)}
        return {"clientid": {"N": "1"}, "m": {"M": months}}

    def flat(n: int) -> dict[str, Any]:
        return {"clientid": {"N": "1"}, "pad": {"S": "x" * n}}

    table = "hostile_sizes"
    client = boto3.client("dynamodb")
    if table not in client.list_tables()["TableNames"]:
        fresh_tables(table, "hostile_sizes_unused")
    # Every element has the same size, so the size is linear in the count.
    base, each = item_size(nested(0)), item_size(nested(1)) - item_size(nested(0))
    largest = (MAX_ITEM_BYTES - base) // each
    pad = MAX_ITEM_BYTES - item_size(flat(0))
    for fits, too_big in ((nested(largest), nested(largest + 1)), (flat(pad), flat(pad + 1))):
        assert item_size(fits) <= MAX_ITEM_BYTES < item_size(too_big)
        client.put_item(TableName=table, Item=fits)
        with pytest.raises(ClientError, match="ValidationException"):
            client.put_item(TableName=table, Item=too_big)

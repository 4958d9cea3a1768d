"""CSV results in every shape AWS may send them, end to end through boto3.

AWS documents neither which ``GetStatementResultV2`` pages start with a header line
nor how NULL is written. The emulator sends each shape on demand (``csv_header``:
first page, every page, none; ``csv_null``: an empty field or ``""``); the source
reads the same rows from all of them, equal to the JSON result, and a whole sync
through the least friendly shape writes the same items.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devstack.dataapi import DataApiServer
from devstack.seed import seed
from dynamo.config import Settings
from dynamo.extract import open_source
from dynamo.extract.data_api import DataApiSource
from dynamo.query import Insert
from dynamo.tables import create_tables
from dynamo.views import create_views
from tests.support.compare import by_year_differences, clients_info_differences, scan
from tests.support.expected import from_warehouse
from tests.support.settings import settings_of

PAGE_SIZE = 7
#: NULLs in integer, numeric, float and text columns, over 4 pages of 7 rows.
SQL = (
    "SELECT g AS id,"
    " CASE WHEN g % 3 = 0 THEN NULL ELSE g * 10 END::bigint AS clientid,"
    " CASE WHEN g % 4 = 0 THEN NULL ELSE g * 1.25 END::numeric(12,2) AS amount,"
    " CASE WHEN g % 5 = 0 THEN NULL ELSE g / 8.0 END::float8 AS ratio,"
    " CASE g % 6 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'x' || g END AS label"
    " FROM generate_series(1, 25) g WHERE g > CAST(:low AS INT) ORDER BY g"
)
SHAPES = [(header, null) for header in ("first", "every", "none") for null in ("empty", "quoted")]
TABLES = {"clients_info_table": "csv_shape_ci", "clients_info_by_year_table": "csv_shape_ciby"}


def _settings(env: dict[str, str], endpoint: str, result_format: str) -> Settings:
    return settings_of(
        env, aws_endpoint_url_redshift_data=endpoint, data_api_result_format=result_format
    )


@pytest.fixture(scope="module")
def json_rows(local_stack: Any) -> list[tuple[Any, ...]]:
    env = local_stack.env
    with DataApiSource.from_settings(
        _settings(env, env["AWS_ENDPOINT_URL_REDSHIFT_DATA"], "json")
    ) as source:
        return list(source.rows(SQL, {"low": 0}))


@pytest.fixture(params=SHAPES, ids=[f"header-{h}-null-{n}" for h, n in SHAPES])
def shaped(request: pytest.FixtureRequest, local_stack: Any) -> Iterator[DataApiServer]:
    header, null = request.param
    with DataApiServer(
        local_stack.conninfo, page_size=PAGE_SIZE, csv_header=header, csv_null=null
    ) as server:
        yield server


def test_every_shape_reads_the_json_rows(
    local_stack: Any, shaped: DataApiServer, json_rows: list[tuple[Any, ...]]
) -> None:
    with DataApiSource.from_settings(
        _settings(local_stack.env, shaped.endpoint_url, "csv")
    ) as source:
        rows = list(source.rows(SQL, {"low": 0}))
        later = list(source.rows(SQL, {"low": 20}))
    # CSV writes NULL and '' alike in a text column: both read as ''.
    expected = [(*row[:4], row[4] or "") for row in json_rows]
    assert rows == expected
    assert later == expected[20:]
    assert any(row[1] is None for row in rows) and any(row[3] is None for row in rows)


def test_a_sync_through_headers_on_every_page_and_quoted_nulls(
    local_stack: Any, warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(local_stack.conninfo, clients=60, seed=33, years=(2019, 2025))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    expected = from_warehouse(warehouse)
    dynamodb = boto3.client("dynamodb", endpoint_url=local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"])
    existing = dynamodb.list_tables()["TableNames"]
    for name in TABLES.values():
        if name in existing:  # a stack reused from an earlier run
            dynamodb.delete_table(TableName=name)
            dynamodb.get_waiter("table_not_exists").wait(TableName=name)
    create_tables(dynamodb, *TABLES.values())
    with DataApiServer(
        local_stack.conninfo, page_size=PAGE_SIZE, csv_header="every", csv_null="quoted"
    ) as server:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REDSHIFT_DATA", server.endpoint_url)
        monkeypatch.setenv("DATA_API_RESULT_FORMAT", "csv")
        with Insert(**TABLES, chunk_clients=25) as insert:
            info = insert.clients_info()
            by_year = insert.clients_info_by_month()
    assert info.clientids == by_year.clientids == sorted(expected)
    problems = clients_info_differences(scan(dynamodb, TABLES["clients_info_table"]), expected)
    problems += by_year_differences(scan(dynamodb, TABLES["clients_info_by_year_table"]), expected)
    assert not problems, problems[:10]

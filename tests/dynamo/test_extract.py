"""Both extract sources against the local stack: the Data API emulator (pages of
100 rows) and the wire endpoint, over the same PostgreSQL warehouse.

The rows are written with psycopg straight into the warehouse (schema
``extract_test``), so what a source returns is compared with data it did not write.
The package's own helper, :func:`~dynamo.extract.short_sql`, is tested with the
failures whose messages it shortens.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from dynamo.config import Settings
from dynamo.extract import ExtractError, Source, short_sql
from dynamo.extract.data_api import DataApiSource
from dynamo.extract.direct import DirectSource
from tests.support.settings import settings_of

SCHEMA = "extract_test"
TABLE = f"{SCHEMA}.amounts"
COUNT = 2345  # with 100 rows a page: 24 pages
STATEMENT_ID = re.compile(r"statement ([0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})")


def _amount(i: int) -> Decimal:
    # Whole, negative, zero, large: every one with two decimals.
    cents = (i * 7919) % 2_000_003 - 1_000_000
    if i % 97 == 0:
        cents = 999_999_999_999  # DECIMAL(12,2)'s largest
    return Decimal(cents).scaleb(-2)


EXPECTED = [
    (i, i * 1_000_003, _amount(i), None if i % 10 == 0 else f"label {i}")
    for i in range(1, COUNT + 1)
]


def scratch_table(conninfo: str, table: str, columns: str, rows: list[tuple[Any, ...]]) -> str:
    """(Re)create ``schema.table`` in the local warehouse with ``rows``; its name."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {table.split('.')[0]}")
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({columns})")
        with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return table


@pytest.fixture(scope="module")
def table(local_stack: Any) -> str:
    columns = (
        "id INTEGER NOT NULL, clientid BIGINT NOT NULL,"
        " amount DECIMAL(12,2) NOT NULL, label VARCHAR(32)"
    )
    return scratch_table(local_stack.conninfo, TABLE, columns, EXPECTED)


@pytest.fixture(scope="module")
def data_api(local_stack: Any) -> Iterator[DataApiSource]:
    source = DataApiSource.from_settings(
        settings_of(local_stack.env, data_api_result_format="json")
    )
    yield source
    source.close()


def _direct_settings(env: dict[str, str], **overrides: Any) -> Settings:
    # The local wire endpoint declines SSL and takes any password.
    return settings_of(env, redshift_ssl=False, redshift_password="local-password", **overrides)


@pytest.fixture(scope="module")
def direct(local_stack: Any) -> Iterator[DirectSource]:
    source = DirectSource.from_settings(_direct_settings(local_stack.env))
    yield source
    source.close()


@pytest.fixture(params=["data_api", "direct"])
def source(request: pytest.FixtureRequest) -> Source:
    value: Source = request.getfixturevalue(request.param)
    return value


class _Calls:
    """Counts the API calls a botocore client makes (an event hook, not a mock)."""

    def __init__(self, source: DataApiSource, operation: str) -> None:
        self.count = 0
        self._lock = threading.Lock()
        self._event = f"after-call.redshift-data.{operation}"
        self._events = source.client.meta.events
        self._events.register(self._event, self._seen)

    def _seen(self, **_: Any) -> None:
        with self._lock:
            self.count += 1

    def stop(self) -> None:
        self._events.unregister(self._event, self._seen)


# --------------------------------------------------------------------------- results


def test_many_pages_equal_the_rows_inserted(data_api: DataApiSource, table: str) -> None:
    pages = _Calls(data_api, "GetStatementResult")
    try:
        rows = list(data_api.rows(f"SELECT id, clientid, amount, label FROM {table} ORDER BY id"))
    finally:
        pages.stop()
    assert rows == EXPECTED
    assert pages.count >= 3  # the result crossed pages: every NextToken was followed


def test_rows_stream_page_by_page(data_api: DataApiSource, table: str) -> None:
    pages = _Calls(data_api, "GetStatementResult")
    try:
        rows = data_api.rows(f"SELECT id FROM {table} ORDER BY id")
        assert next(rows) == (1,)
        assert pages.count == 1  # one page fetched, not the whole result
        rest = list(rows)
    finally:
        pages.stop()
    assert len(rest) == COUNT - 1 and pages.count >= 3


@pytest.mark.parametrize(
    ("fixture", "operation"),
    [("data_api", "GetStatementResult"), ("csv_api", "GetStatementResultV2")],
)
def test_a_cancel_stops_the_paging_but_not_a_complete_read(
    request: pytest.FixtureRequest, table: str, fixture: str, operation: str
) -> None:
    source: DataApiSource = request.getfixturevalue(fixture)
    pages = _Calls(source, operation)
    cancel = threading.Event()
    try:
        rows = source.rows(f"SELECT id FROM {table} ORDER BY id", cancel=cancel)
        assert next(rows) == (1,)
        cancel.set()
        with pytest.raises(ExtractError, match="cancelled: the run is stopping"):
            list(rows)
        assert pages.count == 1  # no page is asked for once the run is stopping
        cancel.clear()
        done = source.rows(f"SELECT id FROM {table} WHERE id <= 3 ORDER BY id", cancel=cancel)
        assert next(done) == (1,)
        cancel.set()  # after the last page: the rows fetched are all there
        assert list(done) == [(2,), (3,)]
    finally:
        pages.stop()


@pytest.mark.parametrize("result_format", ["json", "csv"])
def test_the_statement_timeout_covers_the_reading(
    local_stack: Any, table: str, result_format: str
) -> None:
    settings = settings_of(
        local_stack.env, statement_timeout=1.0, data_api_result_format=result_format
    )
    with DataApiSource.from_settings(settings) as source:
        rows = source.rows(f"SELECT id FROM {table} ORDER BY id")
        assert next(rows) == (1,)
        time.sleep(1.1)
        with pytest.raises(ExtractError, match="while its result was read"):
            list(rows)


def test_types_and_decimal_scale(source: Source, table: str) -> None:
    rows = list(source.rows(f"SELECT id, clientid, amount, label FROM {table} ORDER BY id"))
    assert rows == EXPECTED
    for id_, clientid, amount, label in rows:
        assert type(id_) is int and type(clientid) is int
        assert type(amount) is Decimal and amount.as_tuple().exponent == -2
        assert label is None or type(label) is str
    assert max(row[2] for row in rows) == Decimal("9999999999.99")


def test_aggregates_stay_decimal(source: Source, table: str) -> None:
    ((total, count),) = source.rows(f"SELECT SUM(amount), COUNT(*) FROM {table}")
    assert type(total) is Decimal and total == sum(row[2] for row in EXPECTED)
    assert total.as_tuple().exponent == -2
    assert type(count) is int and count == COUNT


def test_parameters(source: Source, table: str) -> None:
    sql = (
        f"SELECT id, amount FROM {table}"
        " WHERE id > :last AND id <= :last::int + :size::int AND label IS NOT NULL ORDER BY id"
    )
    rows = list(source.rows(sql, {"last": 1000, "size": 250}))
    expected = [(i, a) for i, _, a, label in EXPECTED if 1000 < i <= 1250 and label is not None]
    assert rows == expected and len(expected) == 225


@pytest.mark.integration
def test_parameters_are_bound_not_spliced(source: Source) -> None:
    value = "it's -- not ':code'; DROP TABLE x"
    rows = list(
        source.rows(
            "SELECT :text AS t, ':text' AS literal, :n::int + 1 AS n, 'a'::varchar AS cast",
            {"text": value, "n": 41},
        )
    )
    assert rows == [(value, ":text", 42, "a")]


def test_direct_returns_exactly_what_the_data_api_returns(
    data_api: DataApiSource, direct: DirectSource, table: str
) -> None:
    sql = (
        f"SELECT id, clientid, amount, label, amount * 2 AS doubled, id % 2 = 0 AS even,"
        " id / 3.0::float8 AS third, NULL::numeric(12,2) AS nothing,"
        " DATE '2024-02-29' + id AS day,"
        " TIMESTAMP '2024-03-01 12:00:00.5' + id * INTERVAL '1 minute' AS at,"
        " TIMESTAMPTZ '2024-03-01 12:00:00+02' AS at_tz"
        f" FROM {table} WHERE id <= :n ORDER BY id"
    )
    via_api = list(data_api.rows(sql, {"n": 300}))
    via_direct = list(direct.rows(sql, {"n": 300}))
    assert len(via_api) == 300
    assert via_api == via_direct
    for api_row, direct_row in zip(via_api, via_direct):
        assert [type(v) for v in api_row] == [type(v) for v in direct_row]
    first = via_api[0]
    assert first[5] is False and type(first[6]) is float and first[7] is None
    assert first[8] == date(2024, 3, 1)
    assert first[9] == datetime(2024, 3, 1, 12, 1, 0, 500000)
    assert first[10] == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)


def test_empty_result(source: Source, table: str) -> None:
    assert list(source.rows(f"SELECT id FROM {table} WHERE id < :n", {"n": 0})) == []


# --------------------------------------------------------------------------- failures


def test_short_sql_is_one_bounded_line() -> None:
    assert short_sql("\n  SELECT a,\n b FROM t") == "SELECT a, ..."
    long = "SELECT " + ", ".join(f"column_{i}" for i in range(50))
    preview = short_sql(long)
    assert len(preview) <= 80 and preview.endswith("...") and "\n" not in preview


def test_failing_statement_names_it(data_api: DataApiSource) -> None:
    with pytest.raises(ExtractError) as info:
        list(
            data_api.rows(
                "SELECT no_such_column\nFROM extract_test.amounts WHERE id = :id", {"id": 1}
            )
        )
    message = str(info.value)
    assert STATEMENT_ID.search(message), message
    assert "FAILED" in message and "no_such_column" in message
    assert "SELECT no_such_column" in message and "\n" not in message
    (statement_id,) = STATEMENT_ID.findall(message)
    assert data_api.client.describe_statement(Id=statement_id)["Status"] == "FAILED"


def test_failing_direct_statement(direct: DirectSource) -> None:
    with pytest.raises(ExtractError, match="no_such_column") as info:
        list(
            direct.rows("SELECT no_such_column FROM extract_test.amounts WHERE id = :id", {"id": 1})
        )
    assert "\n" not in str(info.value) and "local-password" not in str(info.value)
    # The connection is still good for the next statement.
    assert list(direct.rows("SELECT :n::int", {"n": 5})) == [(5,)]


def test_api_errors_become_extract_errors_with_the_cause(data_api: DataApiSource) -> None:
    from botocore.exceptions import ClientError

    with pytest.raises(ExtractError, match="ValidationException") as info:
        list(data_api.rows("SELECT :a, :b", {"a": 1}))  # the API refuses: no value for :b
    assert "ExecuteStatement" in str(info.value) and "SELECT :a, :b" in str(info.value)
    assert isinstance(info.value.__cause__, ClientError)


def test_statement_timeout_cancels(local_stack: Any) -> None:
    settings = settings_of(local_stack.env, statement_timeout=0.5, data_api_result_format="json")
    source = DataApiSource.from_settings(settings)
    started = time.monotonic()
    with pytest.raises(ExtractError, match="timed out") as info:
        list(source.rows("SELECT pg_sleep(30)"))
    assert time.monotonic() - started < 5
    (statement_id,) = STATEMENT_ID.findall(str(info.value))
    deadline = time.monotonic() + 10
    status = source.client.describe_statement(Id=statement_id)["Status"]
    while status not in ("ABORTED", "FAILED", "FINISHED") and time.monotonic() < deadline:
        time.sleep(0.05)
        status = source.client.describe_statement(Id=statement_id)["Status"]
    assert status == "ABORTED"


def test_direct_statement_timeout(local_stack: Any) -> None:
    settings = _direct_settings(local_stack.env, statement_timeout=0.5)
    with DirectSource.from_settings(settings) as source:
        started = time.monotonic()
        with pytest.raises(ExtractError, match="timeout"):
            list(source.rows("SELECT pg_sleep(30)"))
        assert time.monotonic() - started < 5


# --------------------------------------------------------------------------- lifecycle


def test_early_closed_generator_leaks_nothing(data_api: DataApiSource, table: str) -> None:
    rows = data_api.rows(f"SELECT id FROM {table} ORDER BY id")
    assert next(rows) == (1,)
    rows.close()
    assert list(data_api.rows("SELECT :n::int", {"n": 3})) == [(3,)]


def test_early_closed_direct_generator_frees_its_connection(local_stack: Any, table: str) -> None:
    settings = _direct_settings(local_stack.env)
    with (
        DirectSource.from_settings(settings) as source,
        psycopg.connect(local_stack.conninfo, autocommit=True) as warehouse,
    ):
        ((pid,),) = source.rows("SELECT pg_backend_pid()")
        rows = source.rows(f"SELECT id FROM {table} ORDER BY id")
        assert [next(rows) for _ in range(3)] == [(1,), (2,), (3,)]
        state = warehouse.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,))
        assert state.fetchone() == ("idle in transaction",)  # the statement's transaction
        rows.close()
        state = warehouse.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", (pid,))
        assert state.fetchone() == ("idle",)  # rolled back: no open transaction
        # The same connection is reused.
        assert list(source.rows("SELECT pg_backend_pid()")) == [(pid,)]
        assert len(list(source.rows(f"SELECT id FROM {table}"))) == COUNT
    deadline = time.monotonic() + 5
    with psycopg.connect(local_stack.conninfo, autocommit=True) as warehouse:
        while time.monotonic() < deadline:
            alive = warehouse.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)
            )
            if alive.fetchone() == (0,):
                break
            time.sleep(0.05)
        else:
            pytest.fail("close() left the connection open")


def test_several_threads_share_one_source(source: Source, table: str) -> None:
    def chunk(start: int) -> list[tuple[Any, ...]]:
        sql = f"SELECT id, amount FROM {table} WHERE id > :lo AND id <= :hi ORDER BY id"
        return list(source.rows(sql, {"lo": start, "hi": start + 300}))

    starts = list(range(0, COUNT, 300))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(chunk, starts))
    assert [row for result in results for row in result] == [(i, a) for i, _, a, _ in EXPECTED]


def test_execute_and_script(source: Source, local_stack: Any) -> None:
    name = f"{SCHEMA}.script_{type(source).__name__.lower()}"
    source.execute(f"DROP VIEW IF EXISTS {name}_v")
    source.execute(f"DROP TABLE IF EXISTS {name}")
    source.execute_script(
        [
            f"CREATE TABLE {name} (a INTEGER, b DECIMAL(5,1))",
            f"INSERT INTO {name} VALUES (1, 2.5), (2, 3.5)",
            f"CREATE VIEW {name}_v AS SELECT SUM(b) AS total FROM {name}",
        ]
    )
    assert list(source.rows(f"SELECT total FROM {name}_v")) == [(Decimal("6.0"),)]
    with pytest.raises(ExtractError, match="nowhere"):
        source.execute_script(
            [f"INSERT INTO {name} VALUES (3, 4.5)", "SELECT * FROM extract_test.nowhere"]
        )
    # One transaction: the first insert was rolled back with the failing statement.
    assert list(source.rows(f"SELECT COUNT(*) FROM {name}")) == [(2,)]


@pytest.mark.parametrize("limit", [0, 99, 100, 101, 300])
def test_direct_batches_at_their_edges(local_stack: Any, table: str, limit: int) -> None:
    settings = _direct_settings(local_stack.env)
    source = DirectSource(
        host=settings.redshift_host,
        port=settings.redshift_port,
        password=settings.redshift_password,
        ssl=False,
        fetch_size=100,
    )
    with source:
        rows = list(source.rows(f"SELECT id FROM {table} WHERE id <= :n ORDER BY id", {"n": limit}))
    assert rows == [(i,) for i in range(1, limit + 1)]


# --------------------------------------------------------------------------- CSV results

CSV_SCHEMA = "extract_csv_test"
CSV_TABLE = f"{CSV_SCHEMA}.numbers"
CSV_COUNT = 2345  # 24 pages of 100
MAX_BIGINT = 2**63 - 1
CSV_COLUMNS = "id, clientid, amount, ratio, flag, day, at, at_tz, label, nothing"


def _csv_row(i: int) -> tuple[Any, ...]:
    clientid = MAX_BIGINT - i if i % 2 else i * 1_000_003
    cents = (i * 7919) % 2_000_003 - 1_000_000
    if i % 89 == 0:
        cents = 999_999_999_999_999_999 * (-1 if i % 2 else 1)  # DECIMAL(18,2)'s extremes
    amount = None if i % 50 == 0 else Decimal(cents).scaleb(-2)
    labels = ["plain", "with, comma", 'with "quotes"', "two\nlines", "crlf\r\nend", "é ü"]
    return (
        i,
        clientid,
        amount,
        None if i % 40 == 0 else i / 8,
        None if i % 30 == 0 else i % 3 == 0,
        date(2024, 1, 1) + timedelta(days=i % 400),
        datetime(2024, 3, 1, 12, 0, 0, 500000) + timedelta(minutes=i),
        datetime(2024, 3, 1, 10, tzinfo=timezone.utc) + timedelta(seconds=i),
        f"{labels[i % len(labels)]} {i}",
        None,
    )


CSV_EXPECTED = [_csv_row(i) for i in range(1, CSV_COUNT + 1)]


@pytest.fixture(scope="module")
def csv_table(local_stack: Any) -> str:
    columns = (
        "id INTEGER NOT NULL, clientid BIGINT NOT NULL,"
        " amount DECIMAL(18,2), ratio FLOAT8, flag BOOLEAN, day DATE, at TIMESTAMP,"
        " at_tz TIMESTAMPTZ, label VARCHAR(64) NOT NULL, nothing INTEGER"
    )
    return scratch_table(local_stack.conninfo, CSV_TABLE, columns, CSV_EXPECTED)


@pytest.fixture(scope="module")
def csv_api(local_stack: Any) -> Iterator[DataApiSource]:
    source = DataApiSource.from_settings(settings_of(local_stack.env, data_api_result_format="csv"))
    assert source.result_format == "CSV"
    yield source
    source.close()


def test_csv_rows_equal_json_rows_across_pages(
    data_api: DataApiSource, csv_api: DataApiSource, csv_table: str
) -> None:
    sql = f"SELECT {CSV_COLUMNS} FROM {csv_table} ORDER BY id"
    v2_pages, v1_pages = (
        _Calls(csv_api, "GetStatementResultV2"),
        _Calls(csv_api, "GetStatementResult"),
    )
    try:
        via_csv = list(csv_api.rows(sql))
    finally:
        v2_pages.stop()
        v1_pages.stop()
    via_json = list(data_api.rows(sql))
    assert via_json == CSV_EXPECTED
    assert via_csv == via_json
    for csv_row, json_row in zip(via_csv, via_json):
        assert [type(v) for v in csv_row] == [type(v) for v in json_row]
    assert v2_pages.count == 24 and v1_pages.count == 0
    amounts = [row[2] for row in via_csv if row[2] is not None]
    assert max(amounts) == Decimal("9999999999999999.99")
    assert min(amounts) == Decimal("-9999999999999999.99")
    assert all(amount.as_tuple().exponent == -2 for amount in amounts)
    assert max(row[1] for row in via_csv) == MAX_BIGINT - 1


def test_csv_aggregates_parameters_and_extremes(
    data_api: DataApiSource, csv_api: DataApiSource, csv_table: str
) -> None:
    sql = (
        "SELECT SUM(amount) AS total, COUNT(*) AS n, MAX(clientid) AS top,"
        " :big::bigint AS big, -:big::bigint - 1 AS small, 0.1::float8 AS tenth,"
        " 'NaN'::float8 AS nan, 'id'::varchar AS id"
        f" FROM {csv_table} WHERE id <= :n"
    )
    params = {"n": 1000, "big": MAX_BIGINT}
    ((total, n, top, big, small, tenth, nan, text),) = csv_api.rows(sql, params)
    ((json_total, *_),) = data_api.rows(sql, params)
    assert type(total) is Decimal and total == json_total
    assert total == sum(row[2] for row in CSV_EXPECTED[:1000] if row[2] is not None)
    assert (n, top, big, small) == (1000, MAX_BIGINT - 1, MAX_BIGINT, -(2**63))
    assert tenth == 0.1 and nan != nan and text == "id"


def test_csv_reads_nulls(csv_api: DataApiSource) -> None:
    sql = (
        "SELECT NULL::bigint, NULL::numeric(18,2), NULL::float8, NULL::boolean,"
        " NULL::date, NULL::timestamp, NULL::varchar, ''::varchar, 'x'::varchar"
    )
    # A NULL text reads as '' with CSV: the format writes both alike.
    assert list(csv_api.rows(sql)) == [(None, None, None, None, None, None, "", "", "x")]


def test_csv_rows_stream_page_by_page(csv_api: DataApiSource, csv_table: str) -> None:
    pages = _Calls(csv_api, "GetStatementResultV2")
    try:
        rows = csv_api.rows(f"SELECT id FROM {csv_table} ORDER BY id")
        assert next(rows) == (1,)
        assert pages.count == 1
        rows.close()  # type: ignore[attr-defined]
    finally:
        pages.stop()
    assert pages.count == 1
    assert list(csv_api.rows("SELECT :n::int", {"n": 3})) == [(3,)]


@pytest.mark.parametrize("limit", [0, 1, 99, 100, 101, 200])
def test_csv_page_edges(csv_api: DataApiSource, csv_table: str, limit: int) -> None:
    sql = f"SELECT id, label FROM {csv_table} WHERE id <= :n ORDER BY id"
    rows = list(csv_api.rows(sql, {"n": limit}))
    assert rows == [(row[0], row[8]) for row in CSV_EXPECTED[:limit]]


def test_csv_failing_statement_names_it(csv_api: DataApiSource) -> None:
    with pytest.raises(ExtractError) as info:
        list(csv_api.rows(f"SELECT no_such_column\nFROM {CSV_TABLE} WHERE id = :id", {"id": 1}))
    message = str(info.value)
    assert "FAILED" in message and "no_such_column" in message, message
    assert "SELECT no_such_column" in message and "\n" not in message
    (statement_id,) = STATEMENT_ID.findall(message)
    assert csv_api.client.describe_statement(Id=statement_id)["Status"] == "FAILED"


def test_csv_statement_timeout_cancels(local_stack: Any) -> None:
    settings = settings_of(local_stack.env, statement_timeout=0.5, data_api_result_format="CSV")
    source = DataApiSource.from_settings(settings)
    with pytest.raises(ExtractError, match="timed out") as info:
        list(source.rows("SELECT pg_sleep(30)"))
    (statement_id,) = STATEMENT_ID.findall(str(info.value))
    deadline = time.monotonic() + 10
    status = source.client.describe_statement(Id=statement_id)["Status"]
    while status not in ("ABORTED", "FAILED", "FINISHED") and time.monotonic() < deadline:
        time.sleep(0.05)
        status = source.client.describe_statement(Id=statement_id)["Status"]
    assert status == "ABORTED"


def test_csv_statement_is_run_with_result_format_csv(
    csv_api: DataApiSource, data_api: DataApiSource
) -> None:
    sent: list[dict[str, Any]] = []

    def seen(params: dict[str, Any], **_: Any) -> None:
        sent.append(dict(params))

    event = "before-parameter-build.redshift-data.ExecuteStatement"
    for source in (csv_api, data_api):
        source.client.meta.events.register(event, seen)
        try:
            assert list(source.rows("SELECT 1")) == [(1,)]
        finally:
            source.client.meta.events.unregister(event, seen)
    assert sent[0]["ResultFormat"] == "CSV"
    assert "ResultFormat" not in sent[1]  # JSON requests stay as they were


def test_unreadable_csv_page_names_the_statement(csv_api: DataApiSource, csv_table: str) -> None:
    def corrupt(parsed: dict[str, Any], **_: Any) -> None:
        if "NextToken" not in parsed:  # the last page: a value no BIGINT can hold
            parsed["Records"] = [{"CSVRecords": "12,ok\nnot-a-number,bad\n"}]

    event = "after-call.redshift-data.GetStatementResultV2"
    csv_api.client.meta.events.register(event, corrupt)
    try:
        with pytest.raises(ExtractError) as info:
            list(csv_api.rows(f"SELECT clientid, label FROM {csv_table} ORDER BY id"))
    finally:
        csv_api.client.meta.events.unregister(event, corrupt)
    message = str(info.value)
    assert STATEMENT_ID.search(message) and "could not be read" in message, message
    assert "line 2 column 1" in message and "not-a-number" in message
    assert "[sql: SELECT clientid, label" in message and "\n" not in message

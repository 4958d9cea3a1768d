"""The whole sync on the local stack: seeded transactions -> views -> DynamoDB,
compared to an independent computation from the source rows, to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import boto3
import pytest

from contabyx import layout
from dynamo.query import Insert
from dynamo.tables import create_tables
from tests.support import compare
from tests.support.expected import ClientFigures, Figures
from tests.support.synced import fresh_tables, seeded, sync

CLIENTS = 300
TABLES = {"clients_info_table": "sync_ci", "clients_info_by_year_table": "sync_ciby"}


def scan(table: str) -> dict[int, dict[str, Any]]:
    return compare.scan(boto3.client("dynamodb"), table)


def assert_figures(stored: dict[str, Any], want: Figures) -> None:
    assert stored["income"] == want.income
    assert stored["expense"] == want.expense
    assert stored["balance"] == want.balance
    assert stored["income_count"] == want.income_count
    assert stored["expense_count"] == want.expense_count


def assert_year_item(item: dict[str, Any], want: ClientFigures) -> None:
    # The client's totals are in the by-year item too, so a lookup is one GetItem.
    assert_figures(item, want.total)
    assert compare.RUN_ID.fullmatch(item[layout.RUN])
    for year, figures in want.years.items():
        stored = item[layout.year_attribute(year)]
        assert_figures(stored, figures)
        months = {m for (y, m) in want.months if y == year}
        assert set(stored["months"]) == {layout.month_key(m) for m in months}
        for month in months:
            assert_figures(stored["months"][layout.month_key(month)], want.months[(year, month)])
    # The years are the attribute names (no "years" list).
    named = {k for k in item if k.startswith("y")}
    assert named == {layout.year_attribute(y) for y in want.years}


@pytest.fixture(scope="module")
def expected(local_stack: Any, warehouse: Any) -> dict[int, ClientFigures]:
    figures = seeded(local_stack, warehouse, clients=CLIENTS, seed=11, years=(2015, 2026))
    fresh_tables(*TABLES.values())
    return figures


@pytest.fixture(scope="module")
def full_sync(expected: dict[int, ClientFigures]) -> tuple[Any, Any]:
    return sync(tuple(TABLES.values()))


def test_the_seed_has_the_cases_that_matter(expected: dict[int, ClientFigures]) -> None:
    assert len(expected) > CLIENTS * 0.9
    assert any(c.total.income_count == 0 for c in expected.values()), "a client with only expenses"
    assert any(len(c.years) < 12 for c in expected.values()), "a client missing some years"


def test_clients_info_equals_the_source_to_the_cent(
    expected: dict[int, ClientFigures], full_sync: tuple[Any, Any]
) -> None:
    info, _ = full_sync
    assert info.clientids == sorted(expected)
    assert info.items == len(expected)
    stored = scan(TABLES["clients_info_table"])
    assert set(stored) == set(expected)
    for clientid, want in expected.items():
        assert_figures(stored[clientid], want.total)
        assert isinstance(stored[clientid]["balance"], Decimal)


def test_clients_info_by_year_equals_the_source(
    expected: dict[int, ClientFigures], full_sync: tuple[Any, Any]
) -> None:
    _, by_year = full_sync
    assert by_year.clientids == sorted(expected)
    # With a page size of 100 rows, the month rows cross many Data API pages.
    assert by_year.rows == sum(len(c.months) for c in expected.values()) > 2000
    stored = scan(TABLES["clients_info_by_year_table"])
    assert set(stored) == set(expected)
    for clientid, want in expected.items():
        assert_year_item(stored[clientid], want)


def without_run(items: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {k: {n: v for n, v in item.items() if n != layout.RUN} for k, item in items.items()}


def test_one_run_id_per_insert_in_both_tables(full_sync: tuple[Any, Any]) -> None:
    info, by_year = full_sync
    assert info.run == by_year.run and compare.RUN_ID.fullmatch(info.run)
    runs = [{item[layout.RUN] for item in scan(t).values()} for t in TABLES.values()]
    assert runs == [{info.run}, {info.run}]


def test_a_rerun_leaves_the_same_figures_under_a_new_run(full_sync: tuple[Any, Any]) -> None:
    before = [scan(t) for t in TABLES.values()]
    insert = Insert(**TABLES)
    insert.clients_info()
    insert.clients_info_by_month()
    after = [scan(t) for t in TABLES.values()]
    assert [without_run(t) for t in after] == [without_run(t) for t in before]
    assert {i[layout.RUN] for t in after for i in t.values()} == {insert.run} != {full_sync[0].run}


def test_entries_writes_the_lowest_clients_whole(expected: dict[int, ClientFigures]) -> None:
    tables = {"clients_info_table": "sync_ci_n", "clients_info_by_year_table": "sync_ciby_n"}
    create_tables(boto3.client("dynamodb"), *tables.values())
    insert = Insert(**tables)
    lowest = sorted(expected)[:10]
    assert insert.clients_info(entries=10).clientids == lowest
    assert insert.clients_info_by_month(entries=10).clientids == lowest
    stored = scan(tables["clients_info_by_year_table"])
    assert sorted(stored) == lowest
    for clientid in lowest:
        assert_year_item(stored[clientid], expected[clientid])
    assert insert.clients_info(entries=len(expected) + 50).clientids == sorted(expected)


def test_bad_entries_fail_before_any_io() -> None:
    # No table of these names exists: an error other than the argument check would show I/O.
    insert = Insert(clients_info_table="no_such_table", clients_info_by_year_table="nor_this")
    with pytest.raises(ValueError, match="entries"):
        insert.clients_info(entries=-1)
    with pytest.raises(TypeError, match="entries"):
        insert.clients_info_by_month(entries="10")  # type: ignore[arg-type]


def test_the_direct_source_writes_the_same_items(full_sync: tuple[Any, Any]) -> None:
    tables = {"clients_info_table": "sync_ci_d", "clients_info_by_year_table": "sync_ciby_d"}
    create_tables(boto3.client("dynamodb"), *tables.values())
    # The local wire endpoint declines SSL, as a PostgreSQL stand-in for Redshift does.
    with Insert(source="direct", redshift_ssl=False, **tables) as insert:
        insert.clients_info()
        insert.clients_info_by_month()
    for ours, theirs in zip(tables.values(), TABLES.values()):
        assert without_run(scan(ours)) == without_run(scan(theirs))

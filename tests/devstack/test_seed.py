"""The synthetic data: deterministic, with the awkward cases on purpose, fast to load."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from devstack.seed import TYPES, TransactionRow, generate, parse_years, seed

YEARS = (2015, 2026)


@pytest.fixture(scope="module")
def rows() -> list[TransactionRow]:
    return list(generate(1000, seed=42, years=YEARS))


def test_same_arguments_same_rows_other_seed_other_rows() -> None:
    first = list(generate(150, seed=3, years=YEARS))
    assert first == list(generate(150, seed=3, years=YEARS))
    assert first != list(generate(150, seed=4, years=YEARS))
    assert list(generate(150, seed=3, years=(2020, 2021))) != first


def test_rows_are_well_formed(rows: list[TransactionRow]) -> None:
    typeids = {t[0] for t in TYPES}
    for transactionid, clientid, typeid, when, amount in rows:
        assert isinstance(transactionid, int) and isinstance(clientid, int)
        assert 0 < clientid < 2**63
        assert typeid in typeids
        assert isinstance(when, datetime) and when.tzinfo is None
        assert YEARS[0] <= when.year <= YEARS[1]
        assert isinstance(amount, Decimal)
        assert amount.as_tuple().exponent == -2
        assert Decimal("0.01") <= amount <= Decimal("9999999999.99")
    ids = [r[0] for r in rows]
    assert len(set(ids)) == len(ids)


def test_types_of_each_nature_and_another_nature_in_use(rows: list[TransactionRow]) -> None:
    natures: dict[str, set[int]] = defaultdict(set)
    for typeid, _name, nature in TYPES:
        natures[nature].add(typeid)
    assert len(natures["income"]) >= 2 and len(natures["expense"]) >= 2
    other = set().union(
        *(ids for nature, ids in natures.items() if nature not in ("income", "expense"))
    )
    assert other
    used = {r[2] for r in rows}
    assert used & other and used & natures["income"] and used & natures["expense"]
    assert len({t[0] for t in TYPES}) == len(TYPES)


def test_every_client_present_ids_with_gaps_some_bigint(rows: list[TransactionRow]) -> None:
    clients = sorted({r[1] for r in rows})
    assert len(clients) == 1000
    assert any(b - a > 1 for a, b in zip(clients, clients[1:]))
    assert any(2**31 < c <= 2**53 for c in clients)
    assert any(c > 2**53 for c in clients)


def test_a_few_transactions_per_active_month(rows: list[TransactionRow]) -> None:
    per_month: dict[tuple[int, int, int], int] = defaultdict(int)
    for _, clientid, _, when, _ in rows:
        per_month[(clientid, when.year, when.month)] += 1
    mean = sum(per_month.values()) / len(per_month)
    assert 1.5 <= mean <= 5


def test_some_clients_expense_only_some_skip_years(rows: list[TransactionRow]) -> None:
    nature = {t[0]: t[2] for t in TYPES}
    natures: dict[int, set[str]] = defaultdict(set)
    years: dict[int, set[int]] = defaultdict(set)
    for _, clientid, typeid, when, _ in rows:
        natures[clientid].add(nature[typeid])
        years[clientid].add(when.year)
    expense_only = [c for c, n in natures.items() if n == {"expense"}]
    assert 10 <= len(expense_only) <= 300
    assert sum("income" in n for n in natures.values()) > 500
    # A year without transactions between a client's first and last one.
    assert any(set(range(min(y), max(y) + 1)) - y for y in years.values())
    # And clients without any transaction in some year of the range.
    assert any(len(y) < YEARS[1] - YEARS[0] + 1 for y in years.values())


def test_times_spread_and_on_month_and_year_boundaries(rows: list[TransactionRow]) -> None:
    times = [r[3] for r in rows]
    assert {t.year for t in times} == set(range(YEARS[0], YEARS[1] + 1))
    assert {t.month for t in times} == set(range(1, 13))
    assert any(t.month == 12 and t.day == 31 and t.time().isoformat() == "23:59:59" for t in times)
    assert any(t.month == 1 and t.day == 1 and t.time().isoformat() == "00:00:00" for t in times)
    month_ends = [t for t in times if t.time().isoformat() == "23:59:59" and (t.day >= 28)]
    assert {t.month for t in month_ends} == set(range(1, 13))
    assert len({t.time() for t in times}) > len(times) // 2


def test_parse_years() -> None:
    assert parse_years("2015-2026") == (2015, 2026)
    assert parse_years("2020") == (2020, 2020)
    with pytest.raises(ValueError):
        parse_years("2026-2015")


def test_ten_thousand_clients_load_in_seconds(
    local_stack: Any, warehouse: psycopg.Connection[Any]
) -> None:
    summary = seed(local_stack.conninfo, clients=10_000, seed=9, years=YEARS)
    assert summary.clients == 10_000
    assert summary.seconds < 30
    with warehouse.cursor() as cur:
        cur.execute("SELECT count(*), count(DISTINCT clientid) FROM contabyx.transactions")
        assert cur.fetchone() == (summary.transactions, 10_000)
        cur.execute("SELECT typeid, name, nature FROM contabyx.transactiontypes ORDER BY typeid")
        assert cur.fetchall() == sorted(TYPES)
        cur.execute(
            "SELECT transactionid, clientid, typeid, time, amount FROM contabyx.transactions"
            " ORDER BY transactionid LIMIT 2000"
        )
        assert cur.fetchall() == list(itertools.islice(generate(10_000, 9, YEARS), 2000))
    # Seeding again replaces the rows, it does not add to them.
    small = seed(local_stack.conninfo, clients=20, seed=1, years=(2020, 2021))
    with warehouse.cursor() as cur:
        cur.execute("SELECT count(*) FROM contabyx.transactions")
        assert cur.fetchone() == (small.transactions,)

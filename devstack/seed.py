"""Deterministic synthetic source rows for the local warehouse.

Two parts: :func:`generate` is a pure generator of ``transactions`` rows (same
arguments, same rows), and :func:`seed` replaces the warehouse's source tables
with its output through ``COPY``, streaming, so 10,000 clients load in seconds.

What the data holds, on purpose:

* transaction types of nature ``income`` and ``expense`` and one ``transfer``
  type, which is neither and must be ignored downstream;
* a few transactions per client per active month; clients are active for a
  span of months, some skip a whole year, so some clients have no transaction
  in some years;
* some clients with expenses only;
* positive amounts with two decimal places, from 0.01 to very large ones;
* times over the whole year range, some exactly on month and year boundaries
  (``23:59:59`` on the last day, ``00:00:00`` on the first);
* client ids with gaps, a few of them BIGINT-sized (beyond 2**31 and 2**53).

Example::

    rows = list(generate(clients=10, seed=7, years=(2020, 2021)))
    summary = seed(conninfo, clients=1000, seed=7, years=(2015, 2026))
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from typing import Iterator, List, Tuple

import psycopg

TypeRow = Tuple[int, str, str]
"""A ``contabyx.transactiontypes`` row: (typeid, name, nature)."""

TransactionRow = Tuple[int, int, int, datetime, Decimal]
"""A ``contabyx.transactions`` row: (transactionid, clientid, typeid, time, amount)."""

DEFAULT_YEARS = (2015, 2026)

# (typeid, name, nature, smallest amount in cents, largest amount in cents, weight)
_TYPES: Tuple[Tuple[int, str, str, int, int, int], ...] = (
    (1, "salary", "income", 80_000, 900_000, 10),
    (2, "interest", "income", 1, 50_000, 4),
    (3, "refund", "income", 100, 60_000, 3),
    (7, "dividends", "income", 1_000, 2_000_000, 2),
    (10, "rent", "expense", 40_000, 400_000, 8),
    (11, "groceries", "expense", 150, 40_000, 25),
    (12, "utilities", "expense", 2_000, 60_000, 8),
    (14, "travel", "expense", 5_000, 800_000, 4),
    (15, "fees", "expense", 1, 5_000, 6),
    (20, "transfer", "transfer", 1_000, 5_000_000, 5),
)
TYPES: Tuple[TypeRow, ...] = tuple((t[0], t[1], t[2]) for t in _TYPES)
"""All transaction types, as loaded into ``contabyx.transactiontypes``."""

_EXPENSE_TYPES = tuple(t for t in _TYPES if t[2] == "expense")
_MAX_CENTS = 999_999_999_999  # DECIMAL(12,2)
_BIGINT_MAX = 2**63 - 1

# Per active month: how many transactions, with these weights (mean 2.3).
_PER_MONTH = (0, 1, 2, 3, 4, 5)
_PER_MONTH_WEIGHTS = (10, 20, 30, 20, 12, 8)


@dataclass(frozen=True)
class SeedSummary:
    """What :func:`seed` loaded."""

    clients: int
    transactions: int
    types: int
    seed: int
    years: Tuple[int, int]
    seconds: float


def client_ids(clients: int, rng: random.Random) -> List[int]:
    """``clients`` distinct client ids with gaps; about 2% of them BIGINT-sized.

    Mostly small increasing ids with gaps of 1 to 20; 1% between 2**31 and
    2**53 (no INTEGER, still exact in a double) and 1% above 2**53.

    >>> ids = client_ids(1000, random.Random(1))
    >>> len(set(ids)) == 1000 and any(i > 2**53 for i in ids)
    True
    """
    small = 1000
    huge = 2**31
    ids: List[int] = []
    tops: List[int] = []  # positions that get an id above 2**53
    for position in range(clients):
        draw = rng.random()
        if draw < 0.01:
            huge += rng.randint(1, 2**32)
            ids.append(huge)
        elif draw < 0.02:
            tops.append(position)
            ids.append(0)
        else:
            small += rng.randint(1, 20)
            ids.append(small)
    picked = sorted(rng.sample(range(2**53 + 1, _BIGINT_MAX + 1), len(tops)))
    for position, clientid in zip(tops, picked):
        ids[position] = clientid
    return ids


def _below(rng: random.Random, n: int) -> int:
    # random() is several times cheaper than randint(); plenty for synthetic data.
    return int(rng.random() * n)


def _amount(rng: random.Random, low: int, high: int) -> Decimal:
    cents = low + _below(rng, high - low + 1)
    if rng.random() < 0.002:
        cents = rng.randint(high, _MAX_CENTS)  # now and then a very large one
    return Decimal(cents).scaleb(-2)


def _time(rng: random.Random, year: int, month: int) -> datetime:
    start = datetime(year, month, 1)
    end = datetime(year + (month == 12), month % 12 + 1, 1)
    seconds = int((end - start).total_seconds())
    draw = rng.random()
    if draw < 0.03:
        return start  # 00:00:00 on the 1st (Jan 1 is a year boundary)
    if draw < 0.06:
        return end - timedelta(seconds=1)  # 23:59:59 on the last day
    return start + timedelta(seconds=_below(rng, seconds))


def generate(
    clients: int, seed: int = 0, years: Tuple[int, int] = DEFAULT_YEARS
) -> Iterator[TransactionRow]:
    """Yield ``contabyx.transactions`` rows for ``clients`` clients; deterministic.

    Every client gets at least one transaction. Rows come client by client,
    in time order within a client.

    >>> rows = list(generate(3, seed=1, years=(2020, 2020)))
    >>> len({r[1] for r in rows})
    3
    >>> rows == list(generate(3, seed=1, years=(2020, 2020)))
    True
    """
    first_year, last_year = years
    if clients < 0 or first_year > last_year:
        raise ValueError(f"bad arguments: clients={clients}, years={years}")
    rng = random.Random(seed)
    ids = client_ids(clients, rng)
    months = (last_year - first_year + 1) * 12
    # Cumulative weights: rng.choices would otherwise rebuild them on every row.
    all_weights = list(accumulate(t[5] for t in _TYPES))
    expense_weights = list(accumulate(t[5] for t in _EXPENSE_TYPES))
    per_month = list(accumulate(_PER_MONTH_WEIGHTS))
    transactionid = 0
    for clientid in ids:
        kinds, weights = (
            (_EXPENSE_TYPES, expense_weights) if rng.random() < 0.1 else (_TYPES, all_weights)
        )
        begin = rng.randrange(months)
        span = rng.randint(3, 36)
        skipped_year = first_year + (begin // 12) + 1 if rng.random() < 0.3 else None
        for index in range(begin, min(begin + span, months)):
            year, month = first_year + index // 12, index % 12 + 1
            if year == skipped_year:
                continue
            count = rng.choices(_PER_MONTH, cum_weights=per_month)[0]
            if index == begin:
                count = max(count, 1)  # never a client without transactions
            times = sorted(_time(rng, year, month) for _ in range(count))
            for when in times:
                typeid, _, _, low, high, _ = rng.choices(kinds, cum_weights=weights)[0]
                transactionid += 1 + _below(rng, 3)
                yield (transactionid, clientid, typeid, when, _amount(rng, low, high))


def seed(
    conninfo: str,
    clients: int,
    seed: int = 0,
    years: Tuple[int, int] = DEFAULT_YEARS,
) -> SeedSummary:
    """Replace the warehouse's source rows with :func:`generate`'s, in one transaction.

    Example::

        summary = seed("host=/tmp/pg port=5432 user=postgres dbname=dev", clients=100)
    """
    started = time.monotonic()
    count = 0
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("TRUNCATE contabyx.transactions, contabyx.transactiontypes")
        with cur.copy("COPY contabyx.transactiontypes (typeid, name, nature) FROM STDIN") as copy:
            for type_row in TYPES:
                copy.write_row(type_row)
        with cur.copy(
            "COPY contabyx.transactions (transactionid, clientid, typeid, time, amount) FROM STDIN"
        ) as copy:
            for row in generate(clients, seed, years):
                copy.write_row(row)
                count += 1
        cur.execute("ANALYZE contabyx.transactions")
    return SeedSummary(
        clients=clients,
        transactions=count,
        types=len(TYPES),
        seed=seed,
        years=years,
        seconds=time.monotonic() - started,
    )


#: The transactions that count for their client: the views' filter, in short.
COUNTED = (
    "SELECT t.transactionid, t.clientid FROM contabyx.transactions t"
    " JOIN (SELECT typeid FROM contabyx.transactiontypes GROUP BY typeid"
    "  HAVING MIN(nature) = MAX(nature) AND MIN(nature) IN ('income', 'expense')) tt"
    " ON tt.typeid = t.typeid"
    " WHERE t.clientid >= 0 AND t.amount IS NOT NULL"
    " AND EXTRACT(YEAR FROM t.time) BETWEEN 1 AND 9999"
)


def correct_amounts(conninfo: str, every: int) -> List[int]:
    """Add one cent to one counted transaction of every ``every``-th client (by clientid)
    that has one, as a late correction in the source would; their clientids.

    What an incremental sync must find, and nothing else.
    """
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT DISTINCT clientid FROM ({COUNTED}) c ORDER BY clientid")
        clients = [int(row[0]) for row in cur.fetchall()][::every]
        cur.execute(
            "UPDATE contabyx.transactions SET amount = amount + 0.01 WHERE transactionid IN"
            f" (SELECT MIN(transactionid) FROM ({COUNTED}) c"
            "  WHERE clientid = ANY(%s) GROUP BY clientid)",
            (clients,),
        )
    return clients


def parse_years(text: str) -> Tuple[int, int]:
    """``"2015-2026"`` -> ``(2015, 2026)``; a single year stands for itself.

    >>> parse_years("2015-2026")
    (2015, 2026)
    """
    first, _, last = text.partition("-")
    span = (int(first), int(last or first))
    if span[0] > span[1]:
        raise ValueError(f"years must be FIRST-LAST with FIRST <= LAST, got {text!r}")
    return span


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``seed`` command's options, shared by the CLI."""
    parser.add_argument("--clients", type=int, required=True, help="number of clients")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--years",
        type=parse_years,
        default=DEFAULT_YEARS,
        help="year range FIRST-LAST (default 2015-2026)",
    )


def describe(summary: SeedSummary) -> str:
    """One line for humans."""
    return (
        f"seeded {summary.clients} clients, {summary.transactions} transactions, "
        f"{summary.types} types, years {summary.years[0]}-{summary.years[1]}, "
        f"seed {summary.seed} in {summary.seconds:.1f} s"
    )

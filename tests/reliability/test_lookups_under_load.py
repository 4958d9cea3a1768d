"""Lookups under load: 8 threads x 2,000 mixed lookups against the local stack.

One shared :class:`contabyxAPI` (one pooled botocore client) serves every thread.
Each thread draws its lookups from its own seeded random mix: balance, income and
expense in total, in a year the client has or has not, in a month of a year,
``client()`` in its three shapes, and ids no client has (``ClientNotFound``
expected). Every answer is compared to the independent computation of
:mod:`tests.support.expected`, made from the source rows right after seeding.

The wall time and the lookups per second are printed (``pytest -s`` shows them);
nothing is asserted about speed.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from contabyx import ClientNotFound, contabyxAPI
from tests.support.expected import ClientFigures, Figures, cents, expected_client
from tests.support.synced import fresh_tables, seeded, sync

CLIENTS = 500
SEED = 23
THREADS = 8
LOOKUPS_PER_THREAD = 2_000
TABLES = ("load_ci", "load_ciby")
#: Years drawn for "absent year" lookups: around and beyond the seeded ones.
CANDIDATE_YEARS = range(2005, 2036)

#: One lookup: a label, the call to make, and what it must return (or raise).
Lookup = tuple[str, Callable[[contabyxAPI], Any], Any]
NOT_FOUND = object()


def period_figure(want: ClientFigures, name: str, year: int | None, month: int | None) -> float:
    if year is None:
        level: Figures | None = want.total
    elif month is None:
        level = want.years.get(year)
    else:
        level = want.months.get((year, month))
    return 0.0 if level is None else cents(getattr(level, name))


def draw(rng: random.Random, expected: dict[int, ClientFigures], unknown: list[int]) -> Lookup:
    """One lookup of the mix, with its expected answer."""
    roll = rng.random()
    if roll < 0.08:  # an id no client has: every kind of lookup says ClientNotFound
        clientid = rng.choice(unknown)
        kind = rng.choice(("balance", "income", "expense", "income_y", "client"))
        if kind == "balance":
            return (f"balance({clientid})", lambda api: api.balance(clientid), NOT_FOUND)
        if kind == "client":
            shape = rng.choice(("total", "by_year", "by_month"))
            return (
                f"client({clientid}, {shape!r})",
                lambda api: api.client(clientid, shape),
                NOT_FOUND,
            )
        if kind == "income_y":
            year = rng.choice(CANDIDATE_YEARS)
            return (
                f"income({clientid}, {year})",
                lambda api: api.income(clientid, year),
                NOT_FOUND,
            )
        return (f"{kind}({clientid})", lambda api: getattr(api, kind)(clientid), NOT_FOUND)

    clientid = rng.choice(sorted(expected))
    want = expected[clientid]
    if roll < 0.20:
        return (
            f"balance({clientid})",
            lambda api: api.balance(clientid),
            cents(want.total.balance),
        )
    name = rng.choice(("income", "expense"))
    if roll < 0.32:
        return (
            f"{name}({clientid})",
            lambda api: getattr(api, name)(clientid),
            period_figure(want, name, None, None),
        )
    if roll < 0.47:  # a year the client has
        year = rng.choice(sorted(want.years))
        return (
            f"{name}({clientid}, {year})",
            lambda api: getattr(api, name)(clientid, year),
            period_figure(want, name, year, None),
        )
    if roll < 0.55:  # a year the client has nothing in: a known client gets 0.0
        year = rng.choice([y for y in CANDIDATE_YEARS if y not in want.years])
        return (f"{name}({clientid}, {year})", lambda api: getattr(api, name)(clientid, year), 0.0)
    if roll < 0.70:  # a month the client has
        year, month = rng.choice(sorted(want.months))
        return (
            f"{name}({clientid}, {year}, {month})",
            lambda api: getattr(api, name)(clientid, year=year, month=month),
            period_figure(want, name, year, month),
        )
    if roll < 0.76:  # any month of any candidate year, present or not
        year, month = rng.choice(CANDIDATE_YEARS), rng.randint(1, 12)
        return (
            f"{name}({clientid}, {year}, {month})",
            lambda api: getattr(api, name)(clientid, year, month),
            period_figure(want, name, year, month),
        )
    shape = rng.choice(("total", "by_year", "by_month"))
    return (
        f"client({clientid}, {shape!r})",
        lambda api: api.client(clientid, shape),
        expected_client(clientid, want, shape),
    )


@pytest.fixture(scope="module")
def expected(local_stack: Any, warehouse: Any) -> dict[int, ClientFigures]:
    """Seeded warehouse, its independent figures, views, fresh tables, and a full sync."""
    figures_by_client = seeded(local_stack, warehouse, clients=CLIENTS, seed=SEED)
    fresh_tables(*TABLES)
    info, by_year = sync(TABLES)
    assert info.clientids == by_year.clientids == sorted(figures_by_client)
    return figures_by_client


def test_the_mix_covers_every_kind_of_lookup(expected: dict[int, ClientFigures]) -> None:
    rng = random.Random(SEED)
    unknown = unknown_ids(expected)
    labels = Counter(draw(rng, expected, unknown)[0].split("(")[0] for _ in range(2_000))
    assert set(labels) == {"balance", "income", "expense", "client"}
    assert any(len(c.years) < 12 for c in expected.values()), "a client missing some years"


def unknown_ids(expected: dict[int, ClientFigures]) -> list[int]:
    """Ids between the known ones, below and above them, and huge ones."""
    lowest, highest = min(expected), max(expected)
    gaps = itertools.islice((c for c in range(lowest, highest) if c not in expected), 200)
    return [0, 1, lowest - 1, *gaps, highest + 1, highest + 977, 2**53, 2**63 - 1]


@dataclass
class LoadRun:
    """What :func:`run_load` measured."""

    done: list[int]
    not_found: list[int]
    errors: list[list[str]]
    seconds: float
    kinds: Counter[str]

    @property
    def total(self) -> int:
        return sum(self.done)


def run_load(expected: dict[int, ClientFigures], threads: int, per_thread: int) -> LoadRun:
    """``threads`` threads sharing one contabyxAPI, ``per_thread`` seeded lookups each."""
    unknown = unknown_ids(expected)
    plans = []
    for t in range(threads):
        rng = random.Random(SEED * 1000 + t)
        plans.append([draw(rng, expected, unknown) for _ in range(per_thread)])
    kinds = Counter(label.split("(")[0] for plan in plans for label, _, _ in plan)
    errors: list[list[str]] = [[] for _ in range(threads)]
    done = [0] * threads
    not_found = [0] * threads
    start = threading.Barrier(threads + 1)

    def work(index: int) -> None:
        start.wait()
        for label, call, want in plans[index]:
            try:
                got = call(api)
            except ClientNotFound as exc:
                if want is NOT_FOUND:
                    not_found[index] += 1
                else:
                    errors[index].append(f"{label}: ClientNotFound ({exc})")
            except Exception as exc:  # every failure is collected, none stops the thread
                errors[index].append(f"{label}: {type(exc).__name__}: {exc}")
            else:
                if want is NOT_FOUND:
                    errors[index].append(f"{label}: got {got!r}, expected ClientNotFound")
                elif got != want or type(got) is not type(want):
                    errors[index].append(f"{label}: got {got!r}, expected {want!r}")
            done[index] += 1

    with contabyxAPI(clients_info_table=TABLES[0], clients_info_by_year_table=TABLES[1]) as api:
        workers = [
            threading.Thread(target=work, args=(i,), name=f"lookup-{i}") for i in range(threads)
        ]
        for worker in workers:
            worker.start()
        start.wait()
        began = time.monotonic()
        for worker in workers:
            worker.join()
        seconds = time.monotonic() - began
    run = LoadRun(done, not_found, errors, seconds, kinds)
    print(
        f"\nlookups under load: {threads} threads x {per_thread}: {run.total} lookups "
        f"({sum(not_found)} ClientNotFound) in {seconds:.2f} s, "
        f"{run.total / seconds:,.0f} lookups/s; mix {dict(sorted(kinds.items()))}"
    )
    return run


def assert_all_right(run: LoadRun, threads: int, per_thread: int) -> None:
    problems = [f"thread {i}: {e}" for i, errs in enumerate(run.errors) for e in errs]
    assert not problems, f"{len(problems)} wrong answers; first ones:\n" + "\n".join(problems[:20])
    assert run.done == [per_thread] * threads
    assert run.total == threads * per_thread
    assert all(n > 0 for n in run.not_found), "every thread looked unknown ids up"


def test_eight_threads_of_mixed_lookups_all_equal_the_source(
    expected: dict[int, ClientFigures],
) -> None:
    """The same mix, shorter (8 x 250), for every ``make test``."""
    run = run_load(expected, THREADS, 250)
    assert_all_right(run, THREADS, 250)


@pytest.mark.soak
def test_eight_threads_x_2000_lookups_all_equal_the_source(
    expected: dict[int, ClientFigures],
) -> None:
    """16,000 lookups: about 30 s on DynamoDB Local, hence a soak test."""
    run = run_load(expected, THREADS, LOOKUPS_PER_THREAD)
    assert_all_right(run, THREADS, LOOKUPS_PER_THREAD)

"""The HTTP API's tests share one seeded, synced pair of tables and one server."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tests.support.expected import CENT, ClientFigures, Figures
from tests.support.http_server import Served
from tests.support.synced import seed_and_sync

INFO = "http_clients_info"
BY_YEAR = "http_clients_info_by_year"
TABLES = ["--clients-info-table", INFO, "--clients-info-by-year-table", BY_YEAR]
CLIENTS = 150
YEARS = (2019, 2023)


@pytest.fixture(scope="session")
def expected(local_stack: Any, warehouse: Any) -> dict[int, ClientFigures]:
    """Seeded rows, their independent figures, synced into this package's tables."""
    figures = seed_and_sync(
        local_stack, warehouse, clients=CLIENTS, seed=11, years=YEARS, tables=(INFO, BY_YEAR)
    )
    assert any(cid > 2**53 for cid in figures), "the seed has an id above 2**53"
    return figures


@pytest.fixture(scope="session")
def server(
    expected: dict[int, ClientFigures], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """``contabyx serve`` on a free loopback port, reading this package's tables."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with Served(TABLES, log=log) as served:
        yield served
    assert "Traceback" not in log.read_text()


# --- what the API must answer, from the independent figures --------------------------


def money(value: Decimal) -> str:
    """An amount as the API writes it: the exact decimal, two decimals."""
    return str(value.quantize(CENT))


def level(f: Figures) -> dict[str, Any]:
    return {
        "balance": money(f.balance),
        "income": money(f.income),
        "expense": money(f.expense),
        "income_count": f.income_count,
        "expense_count": f.expense_count,
    }


def expected_json(clientid: int, c: ClientFigures, by: str = "total") -> dict[str, Any]:
    """The body of ``GET /clients/{clientid}?by=...`` for these figures."""
    out: dict[str, Any] = {"clientid": str(clientid), **level(c.total)}
    if by == "total":
        return out
    years: dict[str, Any] = {}
    for year in sorted(c.years):
        years[str(year)] = level(c.years[year])
        if by == "month":
            years[str(year)]["months"] = {
                str(m): level(c.months[(y, m)]) for (y, m) in sorted(c.months) if y == year
            }
    out["years"] = years
    return out


def unknown_id(expected: dict[int, ClientFigures]) -> int:
    return next(i for i in range(1, 10**6) if i not in expected)

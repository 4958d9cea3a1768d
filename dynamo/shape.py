"""Shape: warehouse rows to DynamoDB items. Pure functions, no I/O.

Items come out already in DynamoDB's wire form (``{"N": "10.50"}``), so that
each is serialised exactly once, here, and the load only sends them. The layout
is :mod:`contabyx.layout`.

>>> from decimal import Decimal
>>> client_item((42, Decimal("7.25"), Decimal("10.50"), Decimal("3.25"), 1, 1))["balance"]
{'N': '7.25'}
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from itertools import groupby
from operator import itemgetter
from typing import Any

from contabyx import layout

#: A DynamoDB item in wire form.
Item = dict[str, Any]

#: Columns of ``clients_info`` in the order the sync selects them.
CLIENTS_INFO_COLUMNS = ("clientid", "balance", "income", "expense", "income_count", "expense_count")
#: Columns of ``clients_info_by_month`` in the order the sync selects them.
BY_MONTH_COLUMNS = (
    "clientid",
    "year",
    "month",
    "income",
    "expense",
    "income_count",
    "expense_count",
)


class ShapeError(ValueError):
    """A row does not fit the item layout (a NULL figure, a month out of range...)."""


def _number(value: Any, what: str, clientid: Any) -> dict[str, str]:
    # Money must arrive as Decimal (or int): a float here would already have lost cents.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise ShapeError(f"client {clientid}: {what} is {value!r}, expected a Decimal or int")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ShapeError(f"client {clientid}: {what} is {value}")
    return {"N": str(value)}


def _figures(
    clientid: Any, income: Any, expense: Any, income_count: Any, expense_count: Any
) -> dict[str, dict[str, str]]:
    if income is None or expense is None or income_count is None or expense_count is None:
        raise ShapeError(f"client {clientid}: a figure is NULL")
    return {
        layout.BALANCE: _number(income - expense, "balance", clientid),
        layout.INCOME: _number(income, "income", clientid),
        layout.EXPENSE: _number(expense, "expense", clientid),
        layout.INCOME_COUNT: _number(income_count, "income_count", clientid),
        layout.EXPENSE_COUNT: _number(expense_count, "expense_count", clientid),
    }


def _clientid(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ShapeError(f"clientid {value!r} is not a non-negative integer")
    return value


def client_item(row: Sequence[Any]) -> Item:
    """One ``clients_info`` item from one row of the ``clients_info`` view.

    The balance is recomputed as income - expense and must equal the view's
    balance: the two disagreeing means the view is wrong, and a wrong figure is
    worse than none.
    """
    clientid, balance, income, expense, income_count, expense_count = row
    clientid = _clientid(clientid)
    item: Item = {layout.KEY: {"N": str(clientid)}}
    item.update(_figures(clientid, income, expense, income_count, expense_count))
    if balance is None or Decimal(balance) != income - expense:
        raise ShapeError(
            f"client {clientid}: balance {balance} differs from income - expense "
            f"({income} - {expense})"
        )
    return item


def client_year_item(rows: Iterable[Sequence[Any]]) -> Item:
    """One ``clients_info_by_year`` item from every ``clients_info_by_month`` row of one client.

    Year totals are the exact Decimal sums of their months.
    """
    clientid: int | None = None
    years: dict[int, dict[int, tuple[Any, Any, Any, Any]]] = {}
    for row in rows:
        row_client, year, month, income, expense, income_count, expense_count = row
        row_client = _clientid(row_client)
        if clientid is None:
            clientid = row_client
        elif row_client != clientid:
            raise ShapeError(f"rows of clients {clientid} and {row_client} in one item")
        if not (isinstance(year, int) and layout.MIN_YEAR <= year <= layout.MAX_YEAR):
            raise ShapeError(f"client {clientid}: year {year!r} is out of range")
        if not (isinstance(month, int) and 1 <= month <= 12):
            raise ShapeError(f"client {clientid}: month {month!r} is out of range")
        months = years.setdefault(year, {})
        if month in months:
            raise ShapeError(f"client {clientid}: {year}-{month:02d} appears twice")
        months[month] = (income, expense, income_count, expense_count)
    if clientid is None:
        raise ShapeError("no rows: a client item needs at least one month")

    item: Item = {
        layout.KEY: {"N": str(clientid)},
        layout.YEARS: {"L": [{"N": str(year)} for year in sorted(years)]},
    }
    for year in sorted(years):
        months = years[year]
        totals = [sum(figures[i] for figures in months.values()) for i in range(4)]
        year_map: dict[str, Any] = dict(_figures(clientid, *totals))
        year_map[layout.MONTHS] = {
            "M": {
                layout.month_key(month): {"M": _figures(clientid, *months[month])}
                for month in sorted(months)
            }
        }
        item[layout.year_attribute(year)] = {"M": year_map}
    return item


def client_year_items(rows: Iterable[Sequence[Any]]) -> Iterator[Item]:
    """Group month rows, ordered by clientid, into one item per client, streaming.

    Rows of one client must be adjacent (the sync selects them ``ORDER BY clientid``);
    a client seen again after another raises, since it would overwrite a whole item
    with part of it.
    """
    previous: int | None = None
    for clientid, client_rows in groupby(rows, key=itemgetter(0)):
        if previous is not None and clientid <= previous:
            raise ShapeError(f"rows are not ordered by clientid ({clientid} after {previous})")
        previous = clientid
        yield client_year_item(client_rows)

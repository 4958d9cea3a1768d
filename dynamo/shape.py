"""Shape: warehouse rows to DynamoDB items. Pure functions, no I/O.

Items come out already in DynamoDB's wire form (``{"N": "10.50"}``), so that
each is serialised exactly once, here, and the load only sends them. This is the
writer of the item layout: its attributes are listed once, in docs/architecture.md
("The item layout"), and named in :mod:`contabyx.layout`. Every item is checked
against what DynamoDB can store (its Number limits, its 400 KB item limit) before
it is sent, so that a client DynamoDB would refuse is reported by clientid instead
of failing the batch it shares with others.

>>> from decimal import Decimal
>>> item = client_item((42, Decimal("7.25"), Decimal("10.50"), Decimal("3.25"), 1, 1), run="r1")
>>> item["balance"], item["run"]
({'N': '7.25'}, {'S': 'r1'})
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from itertools import groupby
from operator import itemgetter
from typing import Any, NamedTuple, Union

from contabyx import layout
from dynamo.errors import ShapeError as ShapeError  # its home before dynamo.errors

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

# DynamoDB's limits ("Service, account, and table quotas": Item size; "Supported
# data types": Number): an item is at most 400 KB of attribute names and values;
# a Number has at most 38 significant digits, magnitude 1E-130 to 9.99...E+125.
MAX_ITEM_BYTES = 400 * 1024
NUMBER_DIGITS = 38
NUMBER_MAX_EXPONENT = 125
NUMBER_MIN_EXPONENT = -130

#: Sums and differences are exact or raise: never rounded to the default 28 digits.
_EXACT = Context(prec=2 * NUMBER_DIGITS + 10, traps=[Inexact, InvalidOperation, Overflow])


class Rejected(NamedTuple):
    """A client whose item cannot be stored, and why. ``clientid`` is as the source gave it."""

    clientid: Any
    reason: str


def _number(value: Any, what: str, clientid: Any) -> dict[str, str]:
    # Money must arrive as Decimal (or int): a float here would already have lost cents.
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise ShapeError(f"client {clientid}: {what} is {value!r}, expected a Decimal or int")
    if isinstance(value, Decimal) and not value.is_finite():
        raise ShapeError(f"client {clientid}: {what} is {value}")
    number = Decimal(value)
    if number:
        digits = _significant_digits(number)
        if digits > NUMBER_DIGITS:
            raise ShapeError(
                f"client {clientid}: {what} {value} has {digits} significant digits, "
                f"more than the {NUMBER_DIGITS} of a DynamoDB Number"
            )
        if not NUMBER_MIN_EXPONENT <= number.adjusted() <= NUMBER_MAX_EXPONENT:
            raise ShapeError(
                f"client {clientid}: {what} {value} is out of a DynamoDB Number's range"
            )
    return {"N": str(value)}


def _figures(
    clientid: Any, income: Any, expense: Any, income_count: Any, expense_count: Any
) -> dict[str, dict[str, str]]:
    if income is None or expense is None or income_count is None or expense_count is None:
        raise ShapeError(f"client {clientid}: a figure is NULL")
    return {
        layout.BALANCE: _number(_exact(lambda: income - expense, clientid), "balance", clientid),
        layout.INCOME: _number(income, "income", clientid),
        layout.EXPENSE: _number(expense, "expense", clientid),
        layout.INCOME_COUNT: _number(income_count, "income_count", clientid),
        layout.EXPENSE_COUNT: _number(expense_count, "expense_count", clientid),
    }


def _exact(compute: Any, clientid: Any) -> Any:
    try:
        with localcontext(_EXACT):
            return compute()
    except (Inexact, InvalidOperation, Overflow) as exc:
        raise ShapeError(f"client {clientid}: a sum cannot be computed exactly ({exc!r})") from exc
    except TypeError as exc:  # a float or a string among the figures
        raise ShapeError(f"client {clientid}: a figure is not a number ({exc})") from exc


def _clientid(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ShapeError(f"clientid {value!r} is not a non-negative integer")
    return value


def _head(clientid: int, run: str) -> Item:
    return {layout.KEY: {"N": str(clientid)}, layout.RUN: {"S": run}}


def client_item(row: Sequence[Any], *, run: str) -> Item:
    """One ``clients_info`` item from one row of the ``clients_info`` view.

    The balance is recomputed as income - expense and must equal the view's
    balance: the two disagreeing means the view is wrong, and a wrong figure is
    worse than none.
    """
    clientid, balance, income, expense, income_count, expense_count = row
    clientid = _clientid(clientid)
    item = _head(clientid, run)
    item.update(_figures(clientid, income, expense, income_count, expense_count))
    if balance is None or Decimal(balance) != _exact(lambda: income - expense, clientid):
        raise ShapeError(
            f"client {clientid}: balance {balance} differs from income - expense "
            f"({income} - {expense})"
        )
    return checked_size(item, clientid)


def client_year_item(rows: Iterable[Sequence[Any]], *, run: str) -> Item:
    """One ``clients_info_by_year`` item from every ``clients_info_by_month`` row of one client.

    Year totals and the client's totals are the exact Decimal sums of their months. The
    years an item holds are its ``yNNNN`` attribute names: no list of them is stored.
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

    def totals(figures: Iterable[tuple[Any, Any, Any, Any]]) -> dict[str, Any]:
        columns = list(zip(*figures))
        return _figures(clientid, *(_exact(lambda c=c: sum(c), clientid) for c in columns))

    every_month = [figures for months in years.values() for figures in months.values()]
    item = _head(clientid, run)
    item.update(totals(every_month))
    for year in sorted(years):
        months = years[year]
        year_map: dict[str, Any] = totals(months.values())
        year_map[layout.MONTHS] = {
            "M": {
                layout.month_key(month): {"M": _figures(clientid, *months[month])}
                for month in sorted(months)
            }
        }
        item[layout.year_attribute(year)] = {"M": year_map}
    return checked_size(item, clientid)


def shaped_client_items(rows: Iterable[Sequence[Any]], *, run: str) -> Iterator[Shaped]:
    """``clients_info`` items, one per row; a row that cannot be stored is :class:`Rejected`."""
    for row in rows:
        try:
            yield client_item(row, run=run)
        except ShapeError as exc:
            yield Rejected(row[0] if row else None, str(exc))


def client_year_items(rows: Iterable[Sequence[Any]], *, run: str) -> Iterator[Shaped]:
    """Group month rows, ordered by clientid, into one item per client, streaming.

    A client whose rows cannot be stored is :class:`Rejected`, and the stream goes
    on. Rows of one client must be adjacent (the sync selects them ``ORDER BY
    clientid``): a client seen again after another raises, since it would
    overwrite a whole item with part of it.
    """
    previous: Any = None
    for clientid, client_rows in groupby(rows, key=itemgetter(0)):
        if previous is not None and clientid is not None and clientid <= previous:
            raise ShapeError(f"rows are not ordered by clientid ({clientid} after {previous})")
        previous = clientid if clientid is not None else previous
        try:
            yield client_year_item(client_rows, run=run)
        except ShapeError as exc:
            yield Rejected(clientid, str(exc))


#: What shaping yields for one client: its item, or why it has none.
Shaped = Union[Item, Rejected]


def checked_size(item: Item, clientid: Any) -> Item:
    """``item``, unless DynamoDB would refuse it as over its 400 KB item limit."""
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        raise ShapeError(
            f"client {clientid}: its item is {size / 1024:.1f} KB, over DynamoDB's "
            f"{MAX_ITEM_BYTES // 1024} KB item limit"
        )
    return item


def item_size(item: Item) -> int:
    """The size DynamoDB counts for ``item`` (wire form), in bytes.

    DynamoDB's rule ("DynamoDB item sizes and formats"): the UTF-8 length of each
    attribute name plus its value; a Number is 1 byte per two significant digits
    plus 1; a List or Map is 3 bytes plus its elements, each element 1 byte more;
    a Null or Boolean is 1 byte.

    >>> item_size({"clientid": {"N": "42"}, "run": {"S": "r1"}, "l": {"L": [{"N": "2019"}]}})
    23
    """
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


#: DynamoDB bills one write request unit (or consumes one write capacity unit) per
#: this many bytes of an item, a part counting as a whole.
WRITE_UNIT_BYTES = 1024


def write_units(size: int) -> int:
    """The write units DynamoDB bills for writing, or deleting, an item of ``size`` bytes.

    DynamoDB's rule ("Read/write capacity mode"): one unit per KB of the item,
    rounded up, and at least one; a delete costs the size of the item deleted.

    >>> write_units(1), write_units(1024), write_units(1025)
    (1, 1, 2)
    """
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def _value_size(value: dict[str, Any]) -> int:
    ((kind, body),) = value.items()
    if kind == "N":
        return _number_size(body)
    if kind == "S":
        return len(body.encode())
    if kind == "M":
        return 3 + sum(len(k.encode()) + _value_size(v) + 1 for k, v in body.items())
    if kind == "L":
        return 3 + sum(_value_size(v) + 1 for v in body)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "NS":
        return sum(_number_size(n) for n in body)
    if kind == "SS":
        return sum(len(s.encode()) for s in body)
    return sum(len(b) for b in body) if kind == "BS" else len(body)


def _number_size(text: str) -> int:
    return (_significant_digits(Decimal(text)) + 1) // 2 + 1


def _significant_digits(number: Decimal) -> int:
    # Leading and trailing zeroes do not count, as DynamoDB trims them.
    return len("".join(map(str, number.as_tuple().digits)).strip("0")) or 1

"""The DynamoDB item layout: the one contract between the sync and the client library.

Two tables, both keyed by ``clientid`` (Number), both written whole by each run:

``clients_info``, one item per client::

    {"clientid": 42, "balance": 10.50, "income": 100.50, "expense": 90.00,
     "income_count": 3, "expense_count": 2, "run": "2026-11-28T02:00:00Z-1a2b3c"}

``clients_info_by_year``, one item per client: the client's totals and the run
that wrote them, as in ``clients_info``, plus one top-level map per year, so that
a client's whole history is one ``GetItem`` of one item, and one year of it a
``GetItem`` with a projection of that map::

    {"clientid": 42,
     "balance": 10.50, "income": 100.50, "expense": 90.00,
     "income_count": 3, "expense_count": 2,
     "run": "2026-11-28T02:00:00Z-1a2b3c",
     "years": [2019, 2020],
     "y2019": {"balance": ..., "income": ..., "expense": ...,
               "income_count": ..., "expense_count": ...,
               "months": {"m01": {"balance": ..., "income": ..., "expense": ...,
                                  "income_count": ..., "expense_count": ...},
                          ...}},
     ...}

Totals are the exact Decimal sums of their months, so the figures of one item
never mix two runs. ``run`` is the id of the sync run that wrote the item (its
UTC start and 6 hex digits); the two tables of one run carry the same id.
Only years and months with at least one income or expense transaction are
present. Amounts are DynamoDB Numbers written from ``Decimal``; zero is a value
and is stored. The sync sizes every item by DynamoDB's rule before writing it
(``dynamo.shape.item_size``): sixty years of twelve months is well under the
400 KB item limit (``tests/dynamo/test_shape.py``); a client whose item would
be over it is reported and not written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

CLIENTS_INFO_TABLE: Final = "clients_info"
CLIENTS_INFO_BY_YEAR_TABLE: Final = "clients_info_by_year"

KEY: Final = "clientid"
BALANCE: Final = "balance"
INCOME: Final = "income"
EXPENSE: Final = "expense"
INCOME_COUNT: Final = "income_count"
EXPENSE_COUNT: Final = "expense_count"
YEARS: Final = "years"
MONTHS: Final = "months"
#: The id of the sync run that wrote an item (both tables).
RUN: Final = "run"

#: The figures every level (client, year, month) carries.
FIGURES: Final = (BALANCE, INCOME, EXPENSE, INCOME_COUNT, EXPENSE_COUNT)
#: The figures that are money.
AMOUNTS: Final = (BALANCE, INCOME, EXPENSE)

MIN_YEAR: Final = 1
MAX_YEAR: Final = 9999


def year_attribute(year: int) -> str:
    """Name of the top-level attribute that holds one year: ``year_attribute(2019) == "y2019"``."""
    return f"y{year:04d}"


def month_key(month: int) -> str:
    """Key of one month inside a year's ``months`` map: ``month_key(7) == "m07"``."""
    return f"m{month:02d}"


def parse_year_attribute(name: str) -> int | None:
    """The year a top-level attribute holds, or None when it is not a year attribute."""
    if len(name) == 5 and name[0] == "y" and name[1:].isdigit():
        return int(name[1:])
    return None


def parse_month_key(name: str) -> int | None:
    """The month a ``months`` map key stands for, or None when it is not one."""
    if len(name) == 3 and name[0] == "m" and name[1:].isdigit():
        return int(name[1:])
    return None


# --- Projections: what a reader asks for -----------------------------------------------


class Projection(NamedTuple):
    """A ``ProjectionExpression`` and its ``ExpressionAttributeNames``.

    Every path element is a ``#nN`` placeholder, so no attribute name can collide
    with a DynamoDB reserved word.
    """

    expression: str
    names: dict[str, str]


def projection(*paths: Sequence[str]) -> Projection:
    """The projection of these attribute paths, one placeholder per distinct name.

    >>> p = projection((KEY,), (year_attribute(2019), INCOME))
    >>> p.expression, p.names
    ('#n0, #n1.#n2', {'#n0': 'clientid', '#n1': 'y2019', '#n2': 'income'})
    """
    placeholders: dict[str, str] = {}
    parts = []
    for path in paths:
        if not path:
            raise ValueError("an attribute path needs at least one element")
        elements = []
        for name in path:
            if name not in placeholders:
                placeholders[name] = f"#n{len(placeholders)}"
            elements.append(placeholders[name])
        parts.append(".".join(elements))
    return Projection(", ".join(parts), {p: name for name, p in placeholders.items()})


def total_projection(*figures: str) -> Projection:
    """The key and these client-level figures of ``clients_info``.

    >>> total_projection(BALANCE).expression
    '#n0, #n1'
    """
    return projection((KEY,), *((f,) for f in figures))


def year_projection(year: int, *figures: str) -> Projection:
    """The key and these figures of one year of ``clients_info_by_year``.

    >>> year_projection(2019, INCOME).names
    {'#n0': 'clientid', '#n1': 'y2019', '#n2': 'income'}
    """
    return projection((KEY,), *((year_attribute(year), f) for f in figures))


def month_projection(year: int, month: int, *figures: str) -> Projection:
    """The key and these figures of one month of ``clients_info_by_year``.

    >>> month_projection(2019, 7, EXPENSE).expression
    '#n0, #n1.#n2.#n3.#n4'
    """
    return projection(
        (KEY,), *((year_attribute(year), MONTHS, month_key(month), f) for f in figures)
    )

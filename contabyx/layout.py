"""The DynamoDB item layout shared by the sync (the writer, ``dynamo.shape``) and this
library (the reader, :mod:`contabyx.api`): the one contract between the two sides.

The attributes of each item are listed once, in docs/architecture.md ("The item
layout"); this module holds their names and the projections a reader asks for. Both
tables are keyed by ``clientid`` (Number) and written whole by each run.

The years a ``clients_info_by_year`` item holds are its ``yNNNN`` attribute names
(:func:`parse_year_attribute`). Items written by older runs also carry a ``years``
list; it is no year attribute, so readers pass over it.
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

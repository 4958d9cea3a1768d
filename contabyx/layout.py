"""The DynamoDB item layout: the one contract between the sync and the client library.

Two tables, both keyed by ``clientid`` (Number):

``clients_info``, one item per client::

    {"clientid": 42, "balance": 10.50, "income": 100.50, "expense": 90.00,
     "income_count": 3, "expense_count": 2}

``clients_info_by_year``, one item per client, one top-level map per year so that
one year of one client is a single ``GetItem`` with a projection of that map::

    {"clientid": 42,
     "years": [2019, 2020],
     "y2019": {"balance": ..., "income": ..., "expense": ...,
               "income_count": ..., "expense_count": ...,
               "months": {"m01": {"balance": ..., "income": ..., "expense": ...,
                                  "income_count": ..., "expense_count": ...},
                          ...}},
     ...}

Only years and months with at least one income or expense transaction are
present. Amounts are DynamoDB Numbers written from ``Decimal``; zero is a value
and is stored. Sixty years of twelve months is well under 400 KB per item
(see ``tests/contabyx/test_layout.py``).
"""

from __future__ import annotations

from typing import Final

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

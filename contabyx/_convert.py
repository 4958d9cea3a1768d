"""DynamoDB items to the dicts the API returns: pure functions, no I/O.

The items are those docs/architecture.md lists ("The item layout"); a client's
years are read from its ``yNNNN`` attribute names.

Amounts are rounded to cents on the ``Decimal`` (half-even) and only then turned into
``float``; with ``exact=True`` they stay ``Decimal``, unrounded (shown with two
decimals when that loses nothing). Counts are ``int``. A figure missing from an item
counts as zero.

Floats (IEEE 754 doubles) keep every amount in cents below ``FLOAT_EXACT_LIMIT`` =
2**46 = 70,368,744,177,664.00: there floats are at most 1/128 apart, so the float of an
amount rounds back to its cents. From 2**46 on they are 1/64 apart (more than a cent):
70,368,744,177,664.01 already comes back as .00. (2**53 cents, 90,071,992,547,409.92,
is the limit for an integer count of cents, not for a float amount.)

>>> deserialize({"clientid": {"N": "42"}, "balance": {"N": "10.505"}})
{'clientid': Decimal('42'), 'balance': Decimal('10.505')}
>>> amount(Decimal("10.505"))
10.5
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, Final, Optional, Union, cast

from boto3.dynamodb.types import TypeDeserializer

from contabyx.layout import (
    AMOUNTS,
    BALANCE,
    FIGURES,
    KEY,
    MONTHS,
    RUN,
    parse_month_key,
    parse_year_attribute,
)

CENT: Final = Decimal("0.01")
# DynamoDB numbers have up to 38 significant digits: quantize in a context wide enough.
_CONTEXT: Final = Context(prec=160, rounding=ROUND_HALF_EVEN)
_FALLBACK: Final = TypeDeserializer()

#: Below this amount every cent has its own float (see the module docstring).
FLOAT_EXACT_LIMIT: Final = Decimal(2**46)

Amount = Union[float, Decimal]
Figures = dict[str, Union[Amount, int]]
Number = Union[Decimal, int, float]


def _value(av: Mapping[str, Any]) -> Any:
    # A hand path for the types the layout uses (N, M, L, S). On a by-month item of
    # twelve years it takes about 0.4 ms where TypeDeserializer takes about 1.1 ms, and
    # it gives the same result (tests/contabyx/test_convert.py checks that). Any other
    # type goes through TypeDeserializer.
    if "N" in av:
        return Decimal(av["N"])
    if "M" in av:
        return {k: _value(v) for k, v in av["M"].items()}
    if "L" in av:
        return [_value(v) for v in av["L"]]
    if "S" in av:
        return av["S"]
    return _FALLBACK.deserialize(cast(Any, av))


def deserialize(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A low-level client item (``{"name": {"N": "1"}}``) as Python values (Decimal for N)."""
    return {k: _value(v) for k, v in item.items()}


def amount(value: Optional[Number]) -> float:
    """An amount rounded to cents, half-even, as float; None (missing) is 0.0.

    >>> amount(Decimal("0.125")), amount(None)
    (0.12, 0.0)
    """
    if value is None:
        return 0.0
    return float(Decimal(value).quantize(CENT, context=_CONTEXT))


def exact_amount(value: Optional[Number]) -> Decimal:
    """An amount as the exact ``Decimal`` stored; None (missing) is ``Decimal("0.00")``.

    >>> exact_amount(Decimal("10.5")), exact_amount(Decimal("0.125")), exact_amount(None)
    (Decimal('10.50'), Decimal('0.125'), Decimal('0.00'))
    """
    if value is None:
        return Decimal("0.00")
    exact = Decimal(value)
    cents = exact.quantize(CENT, context=_CONTEXT)
    # Cents read better ("10.50"), but never at the cost of a digit.
    return cents if cents == exact else exact


def count(value: Optional[Number]) -> int:
    """A count as int; None (missing) is 0."""
    return 0 if value is None else int(value)


def money(value: Optional[Number], exact: bool = False) -> Amount:
    """:func:`exact_amount` when ``exact``, else :func:`amount`."""
    return exact_amount(value) if exact else amount(value)


def figure(level: Optional[Mapping[str, Any]], name: str, exact: bool = False) -> Amount | int:
    """One figure of a level (client, year or month map): an amount or a count."""
    raw = None if level is None else level.get(name)
    if name in AMOUNTS:
        return money(raw, exact)
    return count(raw)


def figures(level: Optional[Mapping[str, Any]], exact: bool = False) -> Figures:
    """The five figures of a level, missing ones as zero.

    >>> figures({"balance": Decimal("1"), "income": Decimal("3.333")})["income"]
    3.33
    >>> figures({"income": Decimal("3.333")}, exact=True)["income"]
    Decimal('3.333')
    """
    return {name: figure(level, name, exact) for name in FIGURES}


def dig(item: Optional[Mapping[str, Any]], *path: str) -> Any:
    """The value at ``path`` inside nested maps, or None where any step is missing.

    >>> dig({"y2019": {"income": 1}}, "y2019", "income"), dig({}, "y2019", "income")
    (1, None)
    """
    node: Any = item
    for name in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(name)
    return node


def client_total(item: Mapping[str, Any], exact: bool = False) -> dict[str, Any]:
    """The ``"total"`` dict of an item's top level (``clients_info``, or the totals a
    ``clients_info_by_year`` item carries).

    >>> total = client_total({"clientid": Decimal(7), "balance": Decimal("-2.5"),
    ...     "income": Decimal("1"), "expense": Decimal("3.5"),
    ...     "income_count": Decimal(1), "expense_count": Decimal(2)})
    >>> total["clientid"], total["balance"], total["expense_count"]
    (7, -2.5, 2)
    """
    out: dict[str, Any] = {KEY: int(item[KEY])}
    out.update(figures(item, exact))
    return out


def has_totals(item: Mapping[str, Any]) -> bool:
    """Whether a ``clients_info_by_year`` item carries the client's totals and its run
    (the current layout); items of older syncs have neither.

    The balance is always stored (zero is a value); any other missing figure is zero.
    """
    return RUN in item and BALANCE in item


def _years(by_year: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    found = []
    for name, level in by_year.items():
        year = parse_year_attribute(name)
        if year is not None and isinstance(level, Mapping):
            found.append((year, level))
    found.sort(key=lambda pair: pair[0])
    return found


def _months(level: Mapping[str, Any], exact: bool) -> dict[int, Figures]:
    months = level.get(MONTHS)
    if not isinstance(months, Mapping):
        return {}
    found: dict[int, Figures] = {}
    for name in sorted(months):
        month = parse_month_key(name)
        if month is not None and isinstance(months[name], Mapping):
            found[month] = figures(months[name], exact)
    return found


def client_detail(
    by_year: Mapping[str, Any], with_months: bool, exact: bool = False
) -> dict[str, Any]:
    """The ``"by_year"`` (``with_months=False``) or ``"by_month"`` dict of a client,
    all from its one ``clients_info_by_year`` item: totals from its top level, so
    totals and years always come from the same run.

    >>> client_detail({"clientid": 7, "income": Decimal("2"), "income_count": 1,
    ...     "y2019": {"income": Decimal("2"), "income_count": Decimal(1)}}, False)["years"]
    {2019: {'balance': 0.0, 'income': 2.0, 'expense': 0.0, 'income_count': 1, 'expense_count': 0}}
    """
    out = client_total(by_year, exact)
    years: dict[int, dict[str, Any]] = {}
    for year, level in _years(by_year):
        entry: dict[str, Any] = dict(figures(level, exact))
        if with_months:
            entry[MONTHS] = _months(level, exact)
        years[year] = entry
    out["years"] = years
    return out

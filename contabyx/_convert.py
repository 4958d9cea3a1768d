"""DynamoDB items to the dicts the API returns: pure functions, no I/O.

Amounts are rounded to cents on the ``Decimal`` (half-even) and only then turned into
``float``; counts are ``int``. A figure missing from an item counts as zero.

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
    FIGURES,
    KEY,
    MONTHS,
    parse_month_key,
    parse_year_attribute,
)

CENT: Final = Decimal("0.01")
# DynamoDB numbers have up to 38 significant digits: quantize in a context wide enough.
_CONTEXT: Final = Context(prec=160, rounding=ROUND_HALF_EVEN)
_FALLBACK: Final = TypeDeserializer()

Figures = dict[str, Union[float, int]]
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


def count(value: Optional[Number]) -> int:
    """A count as int; None (missing) is 0."""
    return 0 if value is None else int(value)


def figure(level: Optional[Mapping[str, Any]], name: str) -> float | int:
    """One figure of a level (client, year or month map): an amount or a count."""
    raw = None if level is None else level.get(name)
    if name in AMOUNTS:
        return amount(raw)
    return count(raw)


def figures(level: Optional[Mapping[str, Any]]) -> Figures:
    """The five figures of a level, missing ones as zero.

    >>> figures({"balance": Decimal("1"), "income": Decimal("3.333")})["income"]
    3.33
    """
    return {name: figure(level, name) for name in FIGURES}


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


def client_total(info: Mapping[str, Any]) -> dict[str, Any]:
    """The ``"total"`` dict of a ``clients_info`` item.

    >>> total = client_total({"clientid": Decimal(7), "balance": Decimal("-2.5"),
    ...     "income": Decimal("1"), "expense": Decimal("3.5"),
    ...     "income_count": Decimal(1), "expense_count": Decimal(2)})
    >>> total["clientid"], total["balance"], total["expense_count"]
    (7, -2.5, 2)
    """
    out: dict[str, Any] = {KEY: int(info[KEY])}
    out.update(figures(info))
    return out


def _years(by_year: Optional[Mapping[str, Any]]) -> list[tuple[int, Mapping[str, Any]]]:
    if not by_year:
        return []
    found = []
    for name, level in by_year.items():
        year = parse_year_attribute(name)
        if year is not None and isinstance(level, Mapping):
            found.append((year, level))
    found.sort(key=lambda pair: pair[0])
    return found


def _months(level: Mapping[str, Any]) -> dict[int, Figures]:
    months = level.get(MONTHS)
    if not isinstance(months, Mapping):
        return {}
    found: dict[int, Figures] = {}
    for name in sorted(months):
        month = parse_month_key(name)
        if month is not None and isinstance(months[name], Mapping):
            found[month] = figures(months[name])
    return found


def client_detail(
    info: Mapping[str, Any], by_year: Optional[Mapping[str, Any]], with_months: bool
) -> dict[str, Any]:
    """The ``"by_year"`` (``with_months=False``) or ``"by_month"`` dict of a client.

    ``info`` is its ``clients_info`` item, ``by_year`` its ``clients_info_by_year``
    item or None when there is none (then ``"years"`` is empty).

    >>> client_detail({"clientid": 7}, {"clientid": 7,
    ...     "y2019": {"income": Decimal("2"), "income_count": Decimal(1)}}, False)["years"]
    {2019: {'balance': 0.0, 'income': 2.0, 'expense': 0.0, 'income_count': 1, 'expense_count': 0}}
    """
    out = client_total(info)
    years: dict[int, dict[str, Any]] = {}
    for year, level in _years(by_year):
        entry: dict[str, Any] = dict(figures(level))
        if with_months:
            entry[MONTHS] = _months(level)
        years[year] = entry
    out["years"] = years
    return out

"""An independent computation of every figure, straight from the source rows.

Plain Python over raw ``transactions`` and ``transactiontypes`` rows: no SQL view,
no shaping code of the project. Tests compare what the sync stored and what the
client library returns against it (:func:`expected_client`, :func:`cents`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any, Union

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
# Wide enough for any DynamoDB number (38 significant digits) to quantize exactly.
_CENTS = Context(prec=160, rounding=ROUND_HALF_EVEN)


@dataclass
class Figures:
    income: Decimal = ZERO
    expense: Decimal = ZERO
    income_count: int = 0
    expense_count: int = 0

    @property
    def balance(self) -> Decimal:
        return self.income - self.expense

    def add(self, nature: str, amount: Decimal) -> None:
        if nature == "income":
            self.income += amount
            self.income_count += 1
        else:
            self.expense += amount
            self.expense_count += 1


@dataclass
class ClientFigures:
    total: Figures = field(default_factory=Figures)
    years: dict[int, Figures] = field(default_factory=dict)
    months: dict[tuple[int, int], Figures] = field(default_factory=dict)


def compute(
    transactions: Iterable[tuple[Any, ...]], types: Iterable[tuple[Any, ...]]
) -> dict[int, ClientFigures]:
    """Figures per client from rows ``(transactionid, clientid, typeid, time, amount)``
    and ``(typeid, name, nature)``. Natures other than income and expense are ignored,
    as are rows whose clientid, amount or time is NULL or whose typeid has no type."""
    nature_of = {typeid: nature for typeid, _name, nature in types}
    out: dict[int, ClientFigures] = defaultdict(ClientFigures)
    for _tid, clientid, typeid, time, amount in transactions:
        nature = nature_of.get(typeid)
        if nature not in ("income", "expense") or None in (clientid, amount, time):
            continue
        assert isinstance(time, datetime)
        client = out[int(clientid)]
        client.total.add(nature, Decimal(amount))
        client.years.setdefault(time.year, Figures()).add(nature, Decimal(amount))
        client.months.setdefault((time.year, time.month), Figures()).add(nature, Decimal(amount))
    return dict(out)


def from_warehouse(conn: Any, *, history: str = "") -> dict[int, ClientFigures]:
    """:func:`compute` over every source row, read with a psycopg connection; with
    ``history`` (a schema), its ``transactions`` too, as the Spectrum views read them."""
    columns = "transactionid, clientid, typeid, time, amount"
    query = f"SELECT {columns} FROM contabyx.transactions"
    if history:
        query += f" UNION ALL SELECT {columns} FROM {history}.transactions"
    with conn.cursor() as cur:
        cur.execute("SELECT typeid, name, nature FROM contabyx.transactiontypes")
        types = cur.fetchall()
        cur.execute(query)
        return compute(cur, types)


# --- what contabyxAPI returns for these figures ---------------------------------------


def cents(value: Decimal) -> float:
    """An amount as the library returns it: rounded to cents on the Decimal, half-even,
    then a float."""
    return float(value.quantize(CENT, context=_CENTS))


def level(f: Figures) -> dict[str, Union[float, int]]:
    """The five figures of a client, year or month: amounts in cents, counts as int."""
    return {
        "balance": cents(f.balance),
        "income": cents(f.income),
        "expense": cents(f.expense),
        "income_count": f.income_count,
        "expense_count": f.expense_count,
    }


def expected_client(clientid: int, c: ClientFigures, return_type: str) -> dict[str, Any]:
    """What ``client(clientid, return_type)`` must return (``"total"``, ``"by_year"``
    or ``"by_month"``): the total, then each year the client has, then its months."""
    out: dict[str, Any] = {"clientid": clientid, **level(c.total)}
    if return_type == "total":
        return out
    years: dict[int, dict[str, Any]] = {}
    for year in sorted(c.years):
        years[year] = level(c.years[year])
        if return_type == "by_month":
            years[year]["months"] = {
                m: level(c.months[(y, m)]) for (y, m) in sorted(c.months) if y == year
            }
    out["years"] = years
    return out

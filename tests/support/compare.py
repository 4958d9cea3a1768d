"""Read a sync's tables straight from DynamoDB and list how they differ from the
independent figures of :mod:`tests.support.expected`.

The functions return differences instead of asserting, so that a test can report
how many items were found, how many matched, and show the first mismatches.

>>> stored = scan(boto3.client("dynamodb", endpoint_url=url), "faults_ci")
>>> problems = clients_info_differences(stored, from_warehouse(conn))
>>> assert not problems, problems[:10]
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from contabyx import layout
from tests.support.expected import ClientFigures, Figures

_deser = TypeDeserializer()
FIGURES = ("income", "expense", "balance", "income_count", "expense_count")


def scan(client: Any, table: str) -> dict[int, dict[str, Any]]:
    """Every item of ``table``, deserialised, by clientid (consistent reads)."""
    out: dict[int, dict[str, Any]] = {}
    for page in client.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for raw in page["Items"]:
            item = {k: _deser.deserialize(v) for k, v in raw.items()}
            out[int(item[layout.KEY])] = item
    return out


def figures_differences(where: str, stored: Any, want: Figures) -> list[str]:
    """How the stored figures at ``where`` differ from ``want`` (exact Decimals)."""
    if not isinstance(stored, dict):
        return [f"{where}: no figures ({stored!r})"]
    expected = {
        "income": want.income,
        "expense": want.expense,
        "balance": want.balance,
        "income_count": want.income_count,
        "expense_count": want.expense_count,
    }
    out = []
    for name in FIGURES:
        value = stored.get(name)
        if not isinstance(value, Decimal) or value != expected[name]:
            out.append(f"{where}.{name}: stored {value!r}, expected {expected[name]!r}")
    return out


def clients_info_differences(
    stored: dict[int, dict[str, Any]], expected: dict[int, ClientFigures]
) -> list[str]:
    """Missing, extra and wrong items of a ``clients_info`` table."""
    out = [f"client {c}: missing" for c in sorted(set(expected) - set(stored))]
    out += [f"client {c}: not in the source" for c in sorted(set(stored) - set(expected))]
    for clientid in sorted(set(stored) & set(expected)):
        out += figures_differences(f"client {clientid}", stored[clientid], expected[clientid].total)
        out += run_differences(f"client {clientid}", stored[clientid])
    return out


#: The id of a sync run, as the layout documents it.
RUN_ID = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z-[0-9a-f]{6}")


def run_differences(where: str, item: dict[str, Any]) -> list[str]:
    """An item without the id of the run that wrote it."""
    run = item.get(layout.RUN)
    return [] if isinstance(run, str) and RUN_ID.fullmatch(run) else [f"{where}.run: {run!r}"]


def year_item_differences(clientid: int, item: dict[str, Any], want: ClientFigures) -> list[str]:
    """How one ``clients_info_by_year`` item differs from the client's figures."""
    where = f"client {clientid}"
    # The client's totals and its run are in the by-year item too (one GetItem).
    out = figures_differences(where, item, want.total) + run_differences(where, item)
    # The years are the attribute names; a "years" list would be reported here.
    stored_years = {k for k in item if k.startswith("y")}
    wanted_years = {layout.year_attribute(y) for y in want.years}
    if stored_years != wanted_years:
        out.append(f"{where}: year attributes {sorted(stored_years)}, expected {wanted_years}")
    for year, figures in sorted(want.years.items()):
        name = layout.year_attribute(year)
        stored = item.get(name)
        out += figures_differences(f"{where}.{name}", stored, figures)
        months = stored.get("months") if isinstance(stored, dict) else None
        wanted = {m: f for (y, m), f in want.months.items() if y == year}
        if not isinstance(months, dict) or set(months) != {layout.month_key(m) for m in wanted}:
            out.append(f"{where}.{name}.months: keys differ ({months!r})")
            continue
        for month, month_figures in sorted(wanted.items()):
            key = layout.month_key(month)
            out += figures_differences(f"{where}.{name}.{key}", months[key], month_figures)
    return out


def by_year_differences(
    stored: dict[int, dict[str, Any]], expected: dict[int, ClientFigures]
) -> list[str]:
    """Missing, extra and wrong items of a ``clients_info_by_year`` table."""
    out = [f"client {c}: missing" for c in sorted(set(expected) - set(stored))]
    out += [f"client {c}: not in the source" for c in sorted(set(stored) - set(expected))]
    for clientid in sorted(set(stored) & set(expected)):
        out += year_item_differences(clientid, stored[clientid], expected[clientid])
    return out

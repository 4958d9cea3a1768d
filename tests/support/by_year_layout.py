"""By-year items in the layout of ``contabyx.layout`` (totals and ``run`` at the top
level), written straight into DynamoDB Local, for the library's tests.

:func:`put_client` writes one client in the current layout or the older one (no
totals, no run), or only half of it, which the sync never leaves on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Optional

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from contabyx import layout

#: The run id every item written here carries (the sync's format).
RUN_ID = "2026-11-28T02:00:00Z-0a1b2c"

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def _low(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in item.items()}


def totals_of(item: Mapping[str, Any]) -> dict[str, Decimal]:
    """The client's totals: exact sums over its year maps."""
    sums = {name: Decimal(0) for name in layout.FIGURES}
    for name, level in item.items():
        if layout.parse_year_attribute(name) is not None:
            for figure in layout.FIGURES:
                sums[figure] += Decimal(level.get(figure, 0))
    return sums


def put_client(
    tables: tuple[str, str],
    clientid: int,
    years: Mapping[int, Mapping[int, Mapping[str, Any]]],
    *,
    by_year: bool = True,
    current_layout: bool = True,
    info_figures: Optional[Mapping[str, Any]] = None,
) -> dict[str, Decimal]:
    """Write one client: ``years`` is ``{year: {month: {figure: value}}}``.

    The ``clients_info`` item carries the sums (or ``info_figures``); the by-year item
    is left out with ``by_year=False``, and written without totals and run (the older
    layout, which also held a ``years`` list) with ``current_layout=False``. Returns the
    client's totals.
    """
    info_table, by_year_table = tables
    item: dict[str, Any] = {layout.KEY: clientid}
    for year, months in years.items():
        level = {
            f: sum((Decimal(m.get(f, 0)) for m in months.values()), Decimal(0))
            for f in layout.FIGURES
        }
        level[layout.MONTHS] = {
            layout.month_key(month): {f: Decimal(m.get(f, 0)) for f in layout.FIGURES}
            for month, m in months.items()
        }
        item[layout.year_attribute(year)] = level
    totals = totals_of(item)
    client = boto3.client("dynamodb")
    info = {layout.KEY: clientid, **(info_figures or totals), layout.RUN: RUN_ID}
    client.put_item(TableName=info_table, Item=_low(info))
    if by_year:
        if current_layout:
            item.update(totals)
            item[layout.RUN] = RUN_ID
        else:
            item["years"] = sorted(years)
        client.put_item(TableName=by_year_table, Item=_low(item))
    else:
        client.delete_item(TableName=by_year_table, Key=_low({layout.KEY: clientid}))
    return totals

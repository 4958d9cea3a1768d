"""Shaping rows into items: plain data, no I/O."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer

from contabyx import layout
from dynamo.shape import ShapeError, client_item, client_year_item, client_year_items

D = Decimal
_deser = TypeDeserializer()


def plain(item: dict) -> dict:
    return {k: _deser.deserialize(v) for k, v in item.items()}


def test_client_item_keeps_cents_and_zero() -> None:
    item = plain(client_item((7, D("0.00"), D("12.30"), D("12.30"), 2, 1)))
    assert item == {
        "clientid": 7,
        "balance": D("0"),
        "income": D("12.3"),
        "expense": D("12.3"),
        "income_count": 2,
        "expense_count": 1,
    }
    assert client_item((7, D("0.00"), D("0.00"), D("0.00"), 0, 0))["balance"] == {"N": "0.00"}


def test_client_item_rejects_float_money_and_inconsistent_balance() -> None:
    with pytest.raises(ShapeError, match="Decimal"):
        client_item((1, 0.1, 0.1, 0.0, 1, 0))
    with pytest.raises(ShapeError, match="balance"):
        client_item((1, D("5.00"), D("3.00"), D("1.00"), 1, 1))
    with pytest.raises(ShapeError, match="clientid"):
        client_item((-1, D("0"), D("0"), D("0"), 0, 0))
    with pytest.raises(ShapeError, match="NULL"):
        client_item((1, D("0"), None, D("0"), 0, 0))


def test_year_item_sums_months_exactly() -> None:
    rows = [
        (5, 2019, 12, D("0.10"), D("0.00"), 1, 0),
        (5, 2020, 1, D("0.20"), D("0.05"), 1, 1),
        (5, 2020, 2, D("0.10"), D("0.25"), 1, 1),
    ]
    item = plain(client_year_item(rows))
    assert item["clientid"] == 5
    assert item["years"] == [2019, 2020]
    y2020 = item[layout.year_attribute(2020)]
    assert y2020["income"] == D("0.30")
    assert y2020["expense"] == D("0.30")
    assert y2020["balance"] == 0
    assert y2020["income_count"] == 2 and y2020["expense_count"] == 2
    assert set(y2020["months"]) == {"m01", "m02"}
    assert y2020["months"]["m02"]["balance"] == D("-0.15")
    assert item["y2019"]["months"]["m12"]["income"] == D("0.1")


def test_year_item_errors() -> None:
    with pytest.raises(ShapeError, match="month"):
        client_year_item([(1, 2020, 13, D(1), D(0), 1, 0)])
    with pytest.raises(ShapeError, match="twice"):
        client_year_item([(1, 2020, 1, D(1), D(0), 1, 0), (1, 2020, 1, D(1), D(0), 1, 0)])
    with pytest.raises(ShapeError, match="no rows"):
        client_year_item([])


def test_items_stream_groups_by_client_and_needs_order() -> None:
    rows = [
        (1, 2020, 1, D(1), D(0), 1, 0),
        (1, 2021, 3, D(2), D(0), 1, 0),
        (3, 2020, 5, D(0), D(4), 0, 1),
    ]
    items = list(client_year_items(iter(rows)))
    assert [int(i["clientid"]["N"]) for i in items] == [1, 3]
    with pytest.raises(ShapeError, match="ordered"):
        list(client_year_items(iter([*rows, (2, 2020, 1, D(1), D(0), 1, 0)])))


def test_sixty_years_of_months_stays_far_under_400kb() -> None:
    big = D("9999999999999999.99")
    rows = [
        (2**62, year, month, big, big, 10**9, 10**9)
        for year in range(1970, 2030)
        for month in range(1, 13)
    ]
    item = client_year_item(rows)
    # DynamoDB counts names and values; the JSON wire form is a generous upper bound.
    size = len(json.dumps(item).encode())
    assert size < 400 * 1024 / 2, size

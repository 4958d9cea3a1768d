"""Shaping rows into items: plain data, no I/O."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer

from contabyx import layout
from dynamo.shape import (
    MAX_ITEM_BYTES,
    Rejected,
    ShapeError,
    client_year_items,
    item_size,
    shaped_client_items,
)
from dynamo.shape import client_item as _client_item
from dynamo.shape import client_year_item as _client_year_item

D = Decimal
_deser = TypeDeserializer()


RUN = "2026-11-28T02:00:00Z-1a2b3c"


def client_item(row: tuple) -> dict:
    return _client_item(row, run=RUN)


def client_year_item(rows: list) -> dict:
    return _client_year_item(rows, run=RUN)


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
        "run": RUN,
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
    assert item["run"] == RUN
    # The client's totals, at top level, are the exact sums of every month.
    assert item["income"] == D("0.40") and item["expense"] == D("0.30")
    assert item["balance"] == D("0.10")
    assert item["income_count"] == 3 and item["expense_count"] == 2
    # The years are the attribute names: no list of them is stored.
    assert {name for name in item if name.startswith("y")} == {"y2019", "y2020"}
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
    items = list(client_year_items(iter(rows), run=RUN))
    assert [int(i["clientid"]["N"]) for i in items] == [1, 3]
    with pytest.raises(ShapeError, match="ordered"):
        list(client_year_items(iter([*rows, (2, 2020, 1, D(1), D(0), 1, 0)]), run=RUN))


def test_sixty_years_of_months_stays_far_under_400kb() -> None:
    big = D("9999999999999999.99")
    rows = [
        (2**62, year, month, big, big, 10**9, 10**9)
        for year in range(1970, 2030)
        for month in range(1, 13)
    ]
    item = client_year_item(rows)
    assert item_size(item) < MAX_ITEM_BYTES / 2, item_size(item)


def test_item_size_follows_dynamodbs_rule() -> None:
    # Names and values in UTF-8; a Number is 1 byte per two significant digits
    # (leading and trailing zeroes trimmed) plus 1; a Map or List 3 bytes plus
    # 1 byte per element; a Boolean or Null 1 byte.
    assert item_size({"a": {"S": "héllo"}}) == 1 + 6
    assert item_size({"n": {"N": "12345"}}) == 1 + 3 + 1
    assert item_size({"n": {"N": "1200.00"}}) == item_size({"n": {"N": "12"}}) == 1 + 1 + 1
    assert item_size({"n": {"N": "0.0001"}}) == 1 + 1 + 1
    assert item_size({"m": {"M": {}}}) == 1 + 3
    assert item_size({"m": {"M": {"k": {"BOOL": True}, "z": {"NULL": True}}}}) == 1 + 3 + 2 * 3
    assert item_size({"l": {"L": [{"N": "7"}, {"S": "ab"}]}}) == 1 + 3 + (2 + 1) + (2 + 1)


def test_a_client_over_400kb_is_rejected_with_its_size() -> None:
    rows = [
        (9, year, month, D("1.00"), D("0"), 1, 0)
        for year in range(1500, 2026)
        for month in range(1, 13)
    ]
    with pytest.raises(
        ShapeError, match=r"client 9: its item is \d+\.\d KB, over DynamoDB's 400 KB"
    ):
        client_year_item(rows)
    small = (10, 2020, 1, D(1), D(0), 1, 0)
    shaped = list(
        client_year_items(iter([small, *[(11, *r[1:]) for r in rows], (12, *small[1:])]), run=RUN)
    )
    assert [type(s) for s in shaped] == [dict, Rejected, dict]
    assert shaped[1].clientid == 11 and "400 KB" in shaped[1].reason


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        (D("1" * 39), "39 significant digits"),
        (D("1E+126"), "range"),
        (D("1E-131"), "range"),
    ],
)
def test_a_figure_a_dynamodb_number_cannot_hold_is_rejected(amount: D, why: str) -> None:
    with pytest.raises(ShapeError, match=why):
        client_item((3, amount, amount, D(0), 1, 0))
    # 38 digits, or trailing zeroes past them, are stored.
    assert client_item((3, D("1" * 38 + "00"), D("1" * 38 + "00"), D(0), 1, 0))


def test_sums_are_exact_past_the_default_decimal_precision() -> None:
    # Python's default context keeps 28 digits: a sum of two 30-digit figures
    # would silently round there.
    a, b = D("123456789012345678901234567.89"), D("0.01")
    rows = [(4, 2020, 1, a, D(0), 1, 0), (4, 2020, 2, b, D(0), 1, 0)]
    assert plain(client_year_item(rows))["income"] == D("123456789012345678901234567.90")


def test_rows_that_cannot_be_stored_become_rejected_clients_and_the_stream_goes_on() -> None:
    rows = [
        (1, D("1"), D("1"), D("0"), 1, 0),
        (2, D("1"), D("1" * 40), D("0"), 1, 0),
        (3, D("1"), D("1"), D("0"), 1, 0),
    ]
    shaped = list(shaped_client_items(iter(rows), run=RUN))
    assert [type(s) for s in shaped] == [dict, Rejected, dict]
    assert shaped[1] == Rejected(2, shaped[1].reason) and "significant digits" in shaped[1].reason
    years = [
        (5, 2020, 1, D(1), D(0), 1, 0),
        (6, 44, 1, D(1), D(0), 1, 0),
        (6, 12345, 1, D(1), D(0), 1, 0),  # past year 9999: not storable, the run goes on
        (7, 2020, 1, D(1), D(0), 1, 0),
    ]
    shaped = list(client_year_items(iter(years), run=RUN))
    assert [type(s) for s in shaped] == [dict, Rejected, dict]
    assert shaped[1].clientid == 6 and "year 12345" in shaped[1].reason

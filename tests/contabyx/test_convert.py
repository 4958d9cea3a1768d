"""Items to dicts, and the projections readers send: pure, no I/O."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from contabyx import _convert
from contabyx.layout import (
    FIGURES,
    month_projection,
    projection,
    total_projection,
    year_projection,
)


def level(income: str, expense: str, ic: int, ec: int) -> dict[str, Any]:
    return {
        "balance": Decimal(income) - Decimal(expense),
        "income": Decimal(income),
        "expense": Decimal(expense),
        "income_count": Decimal(ic),
        "expense_count": Decimal(ec),
    }


# --- amounts and counts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("10.50"), 10.5),
        (Decimal("0.125"), 0.12),  # half-even: to the even cent
        (Decimal("0.135"), 0.14),
        (Decimal("-0.125"), -0.12),
        (Decimal("0.005"), 0.0),
        (Decimal("1E+2"), 100.0),
        (Decimal("0"), 0.0),
        (Decimal("9999999999.99"), 9999999999.99),
        (Decimal("12345678901234567890123456789012345.678"), 1.2345678901234568e34),
        (Decimal(7), 7.0),
        (3, 3.0),
        (None, 0.0),
    ],
)
def test_amount_rounds_to_cents_then_float(value: Any, expected: float) -> None:
    result = _convert.amount(value)
    assert type(result) is float
    assert result == expected


def test_count() -> None:
    assert _convert.count(Decimal("3")) == 3
    assert type(_convert.count(Decimal("3"))) is int
    assert _convert.count(None) == 0


def test_figures_missing_are_zero() -> None:
    assert _convert.figures(None) == {
        "balance": 0.0,
        "income": 0.0,
        "expense": 0.0,
        "income_count": 0,
        "expense_count": 0,
    }
    got = _convert.figures({"income": Decimal("2.345"), "income_count": Decimal(2)})
    assert got["income"] == 2.34 and got["income_count"] == 2 and got["expense"] == 0.0


def test_dig() -> None:
    item = {"y2019": {"months": {"m07": {"income": Decimal("1")}}}}
    assert _convert.dig(item, "y2019", "months", "m07", "income") == Decimal("1")
    assert _convert.dig(item, "y2019", "months", "m08", "income") is None
    assert _convert.dig(item, "y2020", "income") is None
    assert _convert.dig({"y2019": 5}, "y2019", "income") is None
    assert _convert.dig(None, "a") is None


# --- client dicts -------------------------------------------------------------------

INFO = {"clientid": Decimal(42), **level("100.505", "90", 3, 2)}
BY_YEAR = {
    **INFO,
    "run": "2026-11-28T02:00:00Z-1a2b3c",
    # Written by a run before the sync dropped this list: still read the same.
    "years": [Decimal(2021), Decimal(2019)],
    "y2021": {**level("0", "90", 0, 2), "months": {"m12": level("0", "90", 0, 2)}},
    "y2019": {
        **level("100.505", "0", 3, 0),
        "months": {"m07": level("100", "0", 1, 0), "m01": level("0.505", "0", 2, 0)},
    },
}


def test_client_total() -> None:
    assert _convert.client_total(INFO) == {
        "clientid": 42,
        "balance": 10.5,  # 10.505 half-even
        "income": 100.5,
        "expense": 90.0,
        "income_count": 3,
        "expense_count": 2,
    }


def test_client_by_year_has_sorted_int_years_without_months() -> None:
    got = _convert.client_detail(BY_YEAR, with_months=False)
    assert list(got["years"]) == [2019, 2021]
    assert got["years"][2019] == {
        "balance": 100.5,
        "income": 100.5,
        "expense": 0.0,
        "income_count": 3,
        "expense_count": 0,
    }
    assert "months" not in got["years"][2021]
    assert got["balance"] == 10.5 and got["clientid"] == 42


def test_client_by_month_has_sorted_int_months() -> None:
    got = _convert.client_detail(BY_YEAR, with_months=True)
    assert list(got["years"][2019]["months"]) == [1, 7]
    assert got["years"][2019]["months"][1]["income"] == 0.5
    assert got["years"][2021]["months"] == {
        12: {
            "balance": -90.0,
            "income": 0.0,
            "expense": 90.0,
            "income_count": 0,
            "expense_count": 2,
        }
    }
    for year in got["years"].values():
        assert set(FIGURES) | {"months"} == set(year)


def test_client_detail_totals_come_from_the_by_year_item() -> None:
    other = {**BY_YEAR, **level("1", "0", 1, 0)}
    assert _convert.client_detail(other, with_months=False)["income"] == 1.0


def test_client_detail_ignores_attributes_that_are_not_years() -> None:
    odd = {**INFO, "years": [], "yabcd": {}, "y2019x": {}, "note": "x"}
    assert _convert.client_detail(odd, with_months=True)["years"] == {}


def test_has_totals_tells_the_layouts_apart() -> None:
    assert _convert.has_totals(BY_YEAR)
    older = {k: v for k, v in BY_YEAR.items() if k not in (*FIGURES, "run")}
    assert not _convert.has_totals(older)
    assert not _convert.has_totals({k: v for k, v in BY_YEAR.items() if k != "run"})


# --- exact amounts and where floats stop being exact --------------------------------


def test_exact_amounts_are_the_stored_decimals() -> None:
    assert _convert.exact_amount(Decimal("10.5")) == Decimal("10.50")
    assert str(_convert.exact_amount(Decimal("10.5"))) == "10.50"
    assert _convert.exact_amount(Decimal("0.125")) == Decimal("0.125")  # no rounding
    assert _convert.exact_amount(None) == Decimal("0.00")
    got = _convert.client_detail(BY_YEAR, with_months=True, exact=True)
    assert got["balance"] == Decimal("10.505") and got["income_count"] == 3
    assert got["years"][2019]["months"][1]["income"] == Decimal("0.505")


def _float_keeps(amount: Decimal) -> bool:
    return Decimal(repr(_convert.amount(amount))) == amount


def test_floats_keep_cents_up_to_the_limit_and_not_beyond() -> None:
    limit = _convert.FLOAT_EXACT_LIMIT
    assert limit == Decimal(2**46) == Decimal("70368744177664")
    cent = Decimal("0.01")
    below = [limit - cent * k for k in range(1, 2000)]
    assert all(_float_keeps(a) for a in below)
    assert all(_float_keeps(-a) for a in below)
    assert not _float_keeps(limit + cent)  # 70,368,744,177,664.01 comes back as .00
    # 2**53 cents is past it: there a float is 1/64 apart, more than a cent.
    assert not all(_float_keeps(Decimal(2**53) * cent - cent * k) for k in range(1, 10))


# --- deserialization ----------------------------------------------------------------

numbers = st.decimals(
    allow_nan=False, allow_infinity=False, places=2, min_value=-(10**12), max_value=10**12
)
values = st.recursive(
    numbers | st.text(min_size=1, max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(min_size=1, max_size=4), inner, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=6), values, max_size=5))
def test_deserialize_matches_type_deserializer(item: dict[str, Any]) -> None:
    wire = {k: TypeSerializer().serialize(v) for k, v in item.items()}
    reference = {k: TypeDeserializer().deserialize(v) for k, v in wire.items()}
    assert _convert.deserialize(wire) == reference


def test_deserialize_other_types_fall_back() -> None:
    wire: dict[str, Any] = {"b": {"BOOL": True}, "n": {"NULL": True}, "ss": {"SS": ["a", "b"]}}
    assert _convert.deserialize(wire) == {"b": True, "n": None, "ss": {"a", "b"}}


# --- projections (contabyx.layout) --------------------------------------------------


def test_projection_placeholders_every_element_and_reuses_names() -> None:
    p = projection(("clientid",), ("y2019", "income"), ("y2019", "expense"))
    assert p.expression == "#n0, #n1.#n2, #n1.#n3"
    assert p.names == {"#n0": "clientid", "#n1": "y2019", "#n2": "income", "#n3": "expense"}


def test_projection_rejects_empty_path() -> None:
    with pytest.raises(ValueError):
        projection(())


def test_reader_projections() -> None:
    assert total_projection("balance") == ("#n0, #n1", {"#n0": "clientid", "#n1": "balance"})
    assert year_projection(2019, "income") == (
        "#n0, #n1.#n2",
        {"#n0": "clientid", "#n1": "y2019", "#n2": "income"},
    )
    assert month_projection(2019, 7, "expense") == (
        "#n0, #n1.#n2.#n3.#n4",
        {"#n0": "clientid", "#n1": "y2019", "#n2": "months", "#n3": "m07", "#n4": "expense"},
    )

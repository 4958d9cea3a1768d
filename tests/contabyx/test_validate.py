"""The argument checks: pure, no I/O."""

from __future__ import annotations

import enum

import pytest

from contabyx._validate import (
    MAX_ID,
    RETURN_TYPES,
    check_id,
    check_ids,
    check_period,
    check_return_type,
    check_table_name,
)


class Small(enum.IntEnum):
    ONE = 1


@pytest.mark.parametrize("value", [0, 1, 42, 2**31, 2**53 + 1, MAX_ID, Small.ONE])
def test_id_accepts_non_negative_ints(value: int) -> None:
    checked = check_id(value)
    assert checked == value
    assert type(checked) is int


@pytest.mark.parametrize("value", [True, False, 1.0, "1", b"1", None, [1], (1,), 1j])
def test_id_rejects_non_ints_with_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="id must be an int"):
        check_id(value)


@pytest.mark.parametrize("value", [-1, -(2**70), MAX_ID + 1, 10**40])
def test_id_rejects_out_of_range_with_value_error(value: int) -> None:
    with pytest.raises(ValueError, match="id must be"):
        check_id(value)


def test_id_message_names_the_parameter() -> None:
    with pytest.raises(TypeError, match=r"ids\[3\] must be an int, not str"):
        check_id("x", name="ids[3]")


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (None, None, (None, None)),
        (2019, None, (2019, None)),
        (2019, 7, (2019, 7)),
        (1, 1, (1, 1)),
        (9999, 12, (9999, 12)),
    ],
)
def test_period_accepts(year: int | None, month: int | None, expected: tuple[object, ...]) -> None:
    assert check_period(year, month) == expected


@pytest.mark.parametrize(
    ("year", "month"),
    [(True, None), (2019.0, None), ("2019", None), (2019, True), (2019, 7.0), (2019, "7"), ([], 1)],
)
def test_period_type_errors(year: object, month: object) -> None:
    with pytest.raises(TypeError):
        check_period(year, month)


@pytest.mark.parametrize(
    ("year", "month", "match"),
    [
        (0, None, "year must be between 1 and 9999"),
        (10000, None, "year must be between 1 and 9999"),
        (-2019, None, "year"),
        (2019, 0, "month must be between 1 and 12"),
        (2019, 13, "month must be between 1 and 12"),
        (None, 7, "month needs a year"),
    ],
)
def test_period_value_errors(year: object, month: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check_period(year, month)


def test_period_checks_types_before_values() -> None:
    # A month of the wrong type is a TypeError even without a year.
    with pytest.raises(TypeError):
        check_period(None, "7")


@pytest.mark.parametrize("value", RETURN_TYPES)
def test_return_type_accepts(value: str) -> None:
    assert check_return_type(value) == value


@pytest.mark.parametrize("value", ["", "totals", "TOTAL", "year", None, 1, ["total"]])
def test_return_type_rejects_listing_the_valid_ones(value: object) -> None:
    with pytest.raises(ValueError) as info:
        check_return_type(value)
    for valid in RETURN_TYPES:
        assert repr(valid) in str(info.value)


def test_ids_deduplicates_in_first_seen_order() -> None:
    assert check_ids([3, 1, 3, 2, 1]) == [3, 1, 2]
    assert check_ids(iter([5, 5])) == [5]
    assert check_ids(x for x in (7, 8)) == [7, 8]
    assert check_ids({9: "a"}) == [9]
    assert check_ids([]) == []


@pytest.mark.parametrize("value", ["123", b"12", bytearray(b"1"), 12, None, 1.5])
def test_ids_rejects_non_iterables_and_strings(value: object) -> None:
    with pytest.raises(TypeError, match="ids must be an iterable of int"):
        check_ids(value)


def test_ids_checks_every_element() -> None:
    with pytest.raises(TypeError, match=r"ids\[1\]"):
        check_ids([1, True, 3])
    with pytest.raises(ValueError, match=r"ids\[2\]"):
        check_ids([1, 2, -3])


@pytest.mark.parametrize("name", ["abc", "clients_info", "a.b-c_D9", "x" * 255])
def test_table_name_accepts(name: str) -> None:
    assert check_table_name(name, "t") == name


@pytest.mark.parametrize(
    "name", ["", "ab", "x" * 256, "has space", "semi;colon", "é-table", "t\n12"]
)
def test_table_name_rejects(name: str) -> None:
    with pytest.raises(ValueError, match="not a valid DynamoDB table name"):
        check_table_name(name, "clients_info_table")


def test_table_name_type() -> None:
    with pytest.raises(TypeError, match="clients_info_table must be a str"):
        check_table_name(None, "clients_info_table")

"""Unit tests of :mod:`dynamo.extract.values`: the Data API's typed JSON fields and
CSV pages to Python values, without a warehouse."""

from __future__ import annotations

import csv
import io
import math
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynamo.extract.values import (
    CsvPageParser,
    column_converter,
    csv_column_converter,
    parse_timestamp,
    record_converter,
)

# Column metadata as GetStatementResult returns it (trimmed to what matters).
INT8 = {"name": "clientid", "typeName": "int8", "precision": 19, "scale": 0}
NUMERIC = {"name": "amount", "typeName": "numeric", "precision": 12, "scale": 2}
VARCHAR = {"name": "nature", "typeName": "varchar", "precision": 16, "scale": 0}


# --------------------------------------------------------------------------- values


class TestColumnConverter:
    def test_integers_stay_int(self) -> None:
        for type_name in ("int2", "int4", "int8"):
            value = column_converter(type_name)({"longValue": 9007199254740993})
            assert value == 9007199254740993 and type(value) is int

    def test_decimal_is_decimal_with_its_scale(self) -> None:
        value = column_converter("numeric")({"stringValue": "12.50"})
        assert type(value) is Decimal
        assert value == Decimal("12.50")
        assert value.as_tuple().exponent == -2

    def test_decimal_keeps_every_digit(self) -> None:
        text = "12345678901234567890123456.789012345678"
        assert str(column_converter("numeric")({"stringValue": text})) == text

    def test_decimal_negative_and_zero(self) -> None:
        convert = column_converter("numeric")
        assert convert({"stringValue": "-0.01"}) == Decimal("-0.01")
        assert str(convert({"stringValue": "0.00"})) == "0.00"

    def test_decimal_from_other_shapes_never_float(self) -> None:
        convert = column_converter("numeric")
        assert convert({"longValue": 3}) == Decimal(3)
        value = convert({"doubleValue": 0.1})
        assert type(value) is Decimal and value == Decimal("0.1")

    @pytest.mark.parametrize(
        "type_name", ["int8", "numeric", "float8", "bool", "varchar", "timestamp", "date", "x"]
    )
    def test_null_is_none(self, type_name: str) -> None:
        assert column_converter(type_name)({"isNull": True}) is None

    def test_double_and_bool(self) -> None:
        assert column_converter("float8")({"doubleValue": 1.5}) == 1.5
        assert math.isnan(column_converter("float4")({"stringValue": "NaN"}))
        assert column_converter("bool")({"booleanValue": False}) is False
        assert column_converter("bool")({"booleanValue": True}) is True

    def test_text_and_unknown_types_keep_the_string(self) -> None:
        assert column_converter("varchar")({"stringValue": "income"}) == "income"
        assert column_converter("super")({"stringValue": '{"a":1}'}) == '{"a":1}'
        assert column_converter(None)({"stringValue": "x"}) == "x"
        assert column_converter("varbyte")({"blobValue": b"\x00\x01"}) == b"\x00\x01"

    def test_type_name_with_modifiers_and_case(self) -> None:
        assert column_converter("NUMERIC(12,2)")({"stringValue": "1.10"}) == Decimal("1.10")

    def test_timestamp(self) -> None:
        convert = column_converter("timestamp")
        assert convert({"stringValue": "2024-03-01 12:34:56"}) == datetime(2024, 3, 1, 12, 34, 56)
        assert convert({"stringValue": "2024-03-01 12:34:56.5"}) == datetime(
            2024, 3, 1, 12, 34, 56, 500000
        )
        assert convert({"stringValue": "2024-03-01 12:34:56.123456"}).microsecond == 123456

    def test_timestamptz_is_aware_utc(self) -> None:
        convert = column_converter("timestamptz")
        value = convert({"stringValue": "2024-03-01 12:00:00+05:30"})
        assert value == datetime(2024, 3, 1, 6, 30, tzinfo=timezone.utc)
        assert value.utcoffset() == timedelta(0)
        assert convert({"stringValue": "2024-03-01 12:00:00+00"}) == datetime(
            2024, 3, 1, 12, tzinfo=timezone.utc
        )

    def test_date_and_time(self) -> None:
        assert column_converter("date")({"stringValue": "2024-02-29"}) == date(2024, 2, 29)
        assert column_converter("time")({"stringValue": "23:59:59.25"}) == time(23, 59, 59, 250000)

    def test_unparsable_temporal_text_is_kept(self) -> None:
        assert parse_timestamp("infinity") == "infinity"
        assert column_converter("date")({"stringValue": "-infinity"}) == "-infinity"


class TestRecordConverter:
    def test_record_to_tuple(self) -> None:
        convert = record_converter([INT8, NUMERIC, VARCHAR])
        row = convert([{"longValue": 7}, {"stringValue": "1.10"}, {"isNull": True}])
        assert row == (7, Decimal("1.10"), None)
        assert type(row) is tuple
        assert [type(value) for value in row] == [int, Decimal, type(None)]

    def test_without_metadata_keeps_raw_values(self) -> None:
        convert = record_converter(None, width=2)
        assert convert([{"longValue": 1}, {"stringValue": "2.5"}]) == (1, "2.5")

    def test_converter_is_built_once_and_reused(self) -> None:
        convert = record_converter([NUMERIC])
        rows = [convert([{"stringValue": f"{i}.01"}]) for i in range(1000)]
        assert sum(row[0] for row in rows) == Decimal("499510.00")


# --------------------------------------------------------------------------- CSV pages

ID = {"name": "id", "label": "id", "typeName": "int4"}
BIGINT = {"name": "clientid", "label": "clientid", "typeName": "int8"}
DECIMAL = {"name": "amount", "label": "amount", "typeName": "numeric", "scale": 2}
FLOAT = {"name": "ratio", "label": "ratio", "typeName": "float8"}
BOOL = {"name": "flag", "label": "flag", "typeName": "bool"}
TEXT = {"name": "label", "label": "label", "typeName": "varchar"}


def _page(*chunks: str) -> list[dict[str, str]]:
    """A page's ``Records`` as GetStatementResultV2 returns them."""
    return [{"CSVRecords": chunk} for chunk in chunks]


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out).writerows(rows)  # quotes every field with a comma, quote, CR or LF
    return out.getvalue()


class TestCsvColumnConverter:
    def test_numbers(self) -> None:
        big = csv_column_converter("int8")(str(2**63 - 1))
        assert big == 2**63 - 1 and type(big) is int
        assert csv_column_converter("int4")("-7") == -7
        amount = csv_column_converter("numeric(18,2)")("-12345678901234.50")
        assert type(amount) is Decimal and str(amount) == "-12345678901234.50"
        assert str(csv_column_converter("decimal")("0.00")) == "0.00"
        assert csv_column_converter("float8")("0.1") == 0.1
        assert math.isnan(csv_column_converter("float4")("NaN"))
        assert csv_column_converter("float8")("-Infinity") == float("-inf")

    @pytest.mark.parametrize(
        ("text", "value"), [("t", True), ("f", False), ("true", True), ("FALSE", False)]
    )
    def test_bool(self, text: str, value: bool) -> None:
        assert csv_column_converter("bool")(text) is value

    def test_bad_bool_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="boolean"):
            csv_column_converter("boolean")("maybe")

    def test_temporal_like_the_json_path(self) -> None:
        for type_name, text in [
            ("timestamp", "2024-03-01 12:34:56.5"),
            ("timestamptz", "2024-03-01 12:00:00+05:30"),
            ("date", "2024-02-29"),
            ("time", "23:59:59.25"),
            ("date", "infinity"),
        ]:
            json_value = column_converter(type_name)({"stringValue": text})
            assert csv_column_converter(type_name)(text) == json_value

    @pytest.mark.parametrize(
        "type_name", ["int2", "int8", "numeric", "float8", "bool", "timestamp", "date", "time"]
    )
    def test_empty_is_none_for_non_text(self, type_name: str) -> None:
        assert csv_column_converter(type_name)("") is None

    def test_text_keeps_its_text_even_empty(self) -> None:
        # CSV cannot tell NULL from '': a text column reads both as ''.
        for type_name in ("varchar", "bpchar", "text", "super", None):
            assert csv_column_converter(type_name)("") == ""
            assert csv_column_converter(type_name)("a b") == "a b"


class TestCsvPageParser:
    def test_header_line_is_skipped_on_the_first_page(self) -> None:
        parser = CsvPageParser([ID, DECIMAL])
        page = _page("id,amount\n1,1.10\n2,-0.05\n")
        assert list(parser.rows(page, first_page=True)) == [
            (1, Decimal("1.10")),
            (2, Decimal("-0.05")),
        ]

    def test_header_by_label_too(self) -> None:
        parser = CsvPageParser([{**ID, "name": "x"}, DECIMAL])
        assert list(parser.rows(_page("id,amount\n1,2\n"), first_page=True)) == [(1, 2)]

    def test_first_page_without_header_keeps_its_first_row(self) -> None:
        parser = CsvPageParser([ID, DECIMAL])
        assert list(parser.rows(_page("1,1.10\n2,3\n"), first_page=True)) == [
            (1, Decimal("1.10")),
            (2, Decimal(3)),
        ]

    def test_later_pages_never_skip(self) -> None:
        # A text row equal to the column names is data on any page but the first.
        parser = CsvPageParser([TEXT, TEXT])
        assert list(parser.rows(_page("label,label\n"), first_page=False)) == [("label", "label")]

    def test_header_only_and_empty_pages(self) -> None:
        parser = CsvPageParser([ID, DECIMAL])
        assert list(parser.rows(_page("id,amount\n"), first_page=True)) == []
        assert list(parser.rows(_page(""), first_page=True)) == []
        assert list(parser.rows([], first_page=False)) == []
        assert list(parser.rows([{}], first_page=False)) == []

    def test_types(self) -> None:
        parser = CsvPageParser([ID, BIGINT, DECIMAL, FLOAT, BOOL, TEXT])
        text = (
            "id,clientid,amount,ratio,flag,label\n"
            f"1,{2**63 - 1},9999999999999999.99,0.25,t,income\n"
            f"2,{-(2**63)},-0.01,1e-05,f,x\n"
        )
        rows = list(parser.rows(_page(text), first_page=True))
        assert rows == [
            (1, 2**63 - 1, Decimal("9999999999999999.99"), 0.25, True, "income"),
            (2, -(2**63), Decimal("-0.01"), 1e-05, False, "x"),
        ]
        for row in rows:
            assert [type(value) for value in row] == [int, int, Decimal, float, bool, str]
            assert row[2].as_tuple().exponent == -2

    def test_empty_numbers_are_none(self) -> None:
        parser = CsvPageParser([ID, BIGINT, DECIMAL, FLOAT, BOOL, TEXT])
        rows = list(parser.rows(_page(",,,,,\n"), first_page=False))
        assert rows == [(None, None, None, None, None, "")]

    @pytest.mark.parametrize(
        "label",
        [
            "a,b",
            'say "hi"',
            "two\nlines",
            "crlf\r\nline",
            '",\n"',
            " padded ",
            "label",
            "\u2028 unicode line separator \u00e9",
        ],
    )
    def test_quoting(self, label: str) -> None:
        parser = CsvPageParser([ID, TEXT, DECIMAL])
        text = _csv([["id", "label", "amount"], ["1", label, "2.50"], ["2", "after", "3"]])
        assert list(parser.rows(_page(text), first_page=True)) == [
            (1, label, Decimal("2.50")),
            (2, "after", Decimal(3)),
        ]

    def test_records_in_several_chunks(self) -> None:
        parser = CsvPageParser([ID, TEXT])
        # Chunks ending with a line break or not: each one holds whole lines.
        page = _page("id,label\n1,a\n", '2,"b,c"', "3,d\r\n")
        assert list(parser.rows(page, first_page=True)) == [(1, "a"), (2, "b,c"), (3, "d")]

    def test_without_metadata_fields_stay_text(self) -> None:
        parser = CsvPageParser(None)
        assert list(parser.rows(_page("a,b\n1,\n"), first_page=True)) == [("a", "b"), ("1", "")]

    def test_wrong_field_count_names_the_line(self) -> None:
        parser = CsvPageParser([ID, DECIMAL])
        with pytest.raises(ValueError, match="line 3 has 3 fields, the result has 2 columns"):
            list(parser.rows(_page("id,amount\n1,2\n3,4,5\n"), first_page=True))

    def test_bad_value_names_line_and_column(self) -> None:
        parser = CsvPageParser([ID, DECIMAL])
        with pytest.raises(ValueError, match=r"line 2 column 2: cannot read 'x\.y'"):
            list(parser.rows(_page("1,2\n3,x.y\n"), first_page=False))
        with pytest.raises(ValueError, match="line 1 column 1"):
            list(parser.rows(_page("one,2\n"), first_page=True))

    def test_malformed_csv_is_an_error(self) -> None:
        parser = CsvPageParser([ID, TEXT])
        with pytest.raises(csv.Error):
            list(parser.rows(_page('1,"open\n'), first_page=False))

    def test_streams_row_by_row(self) -> None:
        parser = CsvPageParser([ID])
        rows = parser.rows(_page("id\n1\n2\nnot a number\n"), first_page=True)
        assert next(rows) == (1,) and next(rows) == (2,)
        with pytest.raises(ValueError):
            next(rows)

    @given(
        st.lists(
            st.tuples(
                st.integers(min_value=-(2**63), max_value=2**63 - 1),
                st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2),
                st.text(min_size=1).filter(lambda text: "\x00" not in text),
            ),
            max_size=20,
        ),
        st.booleans(),
    )
    def test_round_trip_through_the_csv_writer(
        self, rows: list[tuple[int, Decimal | None, str]], header: bool
    ) -> None:
        lines = [["clientid", "amount", "label"]] if header else []
        lines += [[str(i), "" if a is None else str(a), t] for i, a, t in rows]
        parser = CsvPageParser([BIGINT, DECIMAL, TEXT])
        parsed = list(parser.rows(_page(_csv(lines)), first_page=True))
        assert parsed == rows
        assert [str(row[1]) for row in parsed] == [str(row[1]) for row in rows]


class TestCsvPageShapes:
    """AWS documents neither which pages carry a header line nor how NULL is written:
    every plausible shape reads the same rows."""

    COLUMNS: ClassVar[list[dict[str, object]]] = [ID, DECIMAL, TEXT]
    HEADER = "id,amount,label\n"
    PAGES = ('1,1.10,a\n2,,""\n', '3,"",b\n4,-2.00,\n')
    ROWS: ClassVar[list[tuple[object, ...]]] = [
        (1, Decimal("1.10"), "a"),
        (2, None, ""),
        (3, None, "b"),
        (4, Decimal("-2.00"), ""),
    ]

    def _read(
        self, pages: list[str], columns: list[dict[str, object]] | None = None
    ) -> list[tuple[object, ...]]:
        parser = CsvPageParser(columns or self.COLUMNS)
        rows: list[tuple[object, ...]] = []
        for number, text in enumerate(pages):
            rows.extend(parser.rows(_page(text), first_page=number == 0))
        return rows

    def test_header_on_the_first_page_only(self) -> None:
        assert self._read([self.HEADER + self.PAGES[0], self.PAGES[1]]) == self.ROWS

    def test_header_on_every_page(self) -> None:
        assert self._read([self.HEADER + page for page in self.PAGES]) == self.ROWS

    def test_no_header_at_all(self) -> None:
        assert self._read(list(self.PAGES)) == self.ROWS

    def test_header_only_on_a_later_page_of_numbers(self) -> None:
        # A line of column names can never be a row of numbers: it is a header.
        parser = CsvPageParser([ID, DECIMAL])
        assert list(parser.rows(_page("1,2\n"), first_page=True)) == [(1, Decimal(2))]
        assert list(parser.rows(_page("id,amount\n3,\n"), first_page=False)) == [(3, None)]

    @pytest.mark.parametrize("null", ["", '""'])
    def test_null_as_empty_field_or_quoted_empty_string_in_numeric_columns(self, null: str) -> None:
        parser = CsvPageParser([ID, BIGINT, DECIMAL, FLOAT, BOOL])
        line = ",".join(["1"] + [null] * 4) + "\n"
        assert list(parser.rows(_page(line), first_page=False)) == [(1, None, None, None, None)]

    def test_quoted_empty_string_stays_empty_text(self) -> None:
        parser = CsvPageParser([ID, TEXT])
        assert list(parser.rows(_page('1,""\n2,\n'), first_page=False)) == [(1, ""), (2, "")]

    def test_a_text_row_equal_to_the_names_is_data_when_no_page_had_a_header(self) -> None:
        assert self._read(["a,b\n", "label,label\n"], [TEXT, TEXT]) == [
            ("a", "b"),
            ("label", "label"),
        ]

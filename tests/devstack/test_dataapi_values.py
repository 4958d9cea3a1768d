"""Pure unit tests of the emulator's value typing, CSV, parameter binding and validation."""

from __future__ import annotations

import csv
import io
from typing import Optional

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devstack.dataapi import values
from devstack.dataapi.errors import ApiError
from devstack.dataapi.model import validate_request
from devstack.dataapi.params import (
    ParameterError,
    bind_parameters,
    placeholder_names,
    translate,
)
from devstack.dataapi.values import Column, column_metadata, encode_field, encode_row, to_csv

# -- fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "oid", "field"),
    [
        ("-32768", values.INT2, {"longValue": -32768}),
        ("2147483647", values.INT4, {"longValue": 2147483647}),
        ("9223372036854775807", values.INT8, {"longValue": 9223372036854775807}),
        ("1.5", values.FLOAT4, {"doubleValue": 1.5}),
        ("-2.0000000000000004", values.FLOAT8, {"doubleValue": -2.0000000000000004}),
        ("t", values.BOOL, {"booleanValue": True}),
        ("f", values.BOOL, {"booleanValue": False}),
        ("12.50", values.NUMERIC, {"stringValue": "12.50"}),
        ("0.00", values.NUMERIC, {"stringValue": "0.00"}),
        ("abc ", values.VARCHAR, {"stringValue": "abc "}),
        ("x  ", values.BPCHAR, {"stringValue": "x  "}),
        ("2024-01-31", values.DATE, {"stringValue": "2024-01-31"}),
        ("2024-01-31 23:59:59", values.TIMESTAMP, {"stringValue": "2024-01-31 23:59:59"}),
        ("2024-01-31 23:59:59+00", values.TIMESTAMPTZ, {"stringValue": "2024-01-31 23:59:59+00"}),
        ("\\x00ff", values.BYTEA, {"blobValue": "AP8="}),
        ("{1,2}", 1007, {"stringValue": "{1,2}"}),
    ],
)
def test_encode_field_types_values_as_redshift(
    text: str, oid: int, field: dict[str, object]
) -> None:
    assert encode_field(text, oid) == field


@pytest.mark.parametrize("oid", [values.INT4, values.FLOAT8, values.BOOL, values.TEXT, 1007])
def test_null_is_null_whatever_the_type(oid: int) -> None:
    assert encode_field(None, oid) == {"isNull": True}


def test_encode_row_pairs_values_with_their_types() -> None:
    row = ["7", None, "3.25", "f"]
    oids = [values.INT8, values.TEXT, values.NUMERIC, values.BOOL]
    assert encode_row(row, oids) == [
        {"longValue": 7},
        {"isNull": True},
        {"stringValue": "3.25"},
        {"booleanValue": False},
    ]


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_bigints_survive_exactly(number: int) -> None:
    assert encode_field(str(number), values.INT8) == {"longValue": number}


# -- column metadata ----------------------------------------------------------------


def _typmod_numeric(precision: int, scale: int) -> int:
    return ((precision << 16) | scale) + 4


@pytest.mark.parametrize(
    ("column", "type_name", "precision", "scale", "signed"),
    [
        (Column("a", values.INT2), "int2", 5, 0, True),
        (Column("a", values.INT4), "int4", 10, 0, True),
        (Column("a", values.INT8), "int8", 19, 0, True),
        (Column("a", values.FLOAT4), "float4", 8, 8, True),
        (Column("a", values.FLOAT8), "float8", 17, 17, True),
        (Column("a", values.BOOL), "bool", 1, 0, False),
        (Column("a", values.NUMERIC, _typmod_numeric(12, 2)), "numeric", 12, 2, True),
        (Column("a", values.VARCHAR, 64 + 4), "varchar", 64, 0, False),
        (Column("a", values.BPCHAR, 3 + 4), "bpchar", 3, 0, False),
        (Column("a", values.TEXT), "text", 65535, 0, False),
        (Column("a", values.DATE), "date", 13, 0, False),
        (Column("a", values.TIMESTAMP), "timestamp", 29, 6, False),
        (Column("a", values.TIMESTAMP, 0), "timestamp", 29, 0, False),
        (Column("a", values.TIMESTAMPTZ), "timestamptz", 35, 6, False),
        (Column("a", 3802, type_name="jsonb"), "jsonb", 0, 0, False),
    ],
)
def test_column_metadata_names_types_as_redshift(
    column: Column, type_name: str, precision: int, scale: int, signed: bool
) -> None:
    meta = column_metadata(column)
    assert meta["typeName"] == type_name
    assert (meta["precision"], meta["scale"], meta["isSigned"]) == (precision, scale, signed)
    assert meta["name"] == meta["label"] == "a"


def test_column_metadata_carries_source_and_nullability() -> None:
    column = Column("amount", values.NUMERIC, -1, None, "contabyx", "transactions", 0)
    meta = column_metadata(column)
    assert (meta["schemaName"], meta["tableName"], meta["nullable"]) == (
        "contabyx",
        "transactions",
        0,
    )
    assert (meta["precision"], meta["scale"]) == (0, 0)


def test_unknown_types_fall_back_to_their_postgres_name() -> None:
    assert values.redshift_type_name(2950, "uuid") == "uuid"
    assert values.redshift_type_name(2950) == "unknown"
    assert values.redshift_type_name(values.BYTEA, "bytea") == "varbyte"


# -- CSV ----------------------------------------------------------------------------


def test_csv_quotes_what_needs_quoting_and_leaves_null_empty() -> None:
    text = to_csv([["1", 'a,"b"'], ["2", None], ["3", "line\nbreak"]], header=["id", "s"])
    assert text == 'id,s\n1,"a,""b"""\n2,\n3,"line\nbreak"\n'
    assert to_csv([]) == ""
    assert to_csv([["", None, "\r"]]) == '"",,"\r"\n'


# PostgreSQL text never holds NUL (and Python 3.9's csv module cannot read it).
cells = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
)


@given(st.lists(st.lists(cells, min_size=2, max_size=2), max_size=20))
def test_csv_round_trips_through_a_csv_reader(rows: list[list[Optional[str]]]) -> None:
    parsed = list(csv.reader(io.StringIO(to_csv(rows, header=["a", "b"]), newline="")))
    assert parsed[0] == ["a", "b"]
    assert parsed[1:] == [["" if cell is None else cell for cell in row] for row in rows]


# -- parameters ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT :a", "SELECT %(a)s"),
        ("SELECT :a::int, x::text", "SELECT %(a)s::int, x::text"),
        ("SELECT ':a', :a", "SELECT ':a', %(a)s"),
        ("SELECT 'it''s :a', :a", "SELECT 'it''s :a', %(a)s"),
        ("SELECT E'\\' :a', :a", "SELECT E'\\' :a', %(a)s"),
        ('SELECT ":a" FROM t WHERE c = :a', 'SELECT ":a" FROM t WHERE c = %(a)s'),
        ("SELECT $$ :a $$, $f$ :a $f$, :a", "SELECT $$ :a $$, $f$ :a $f$, %(a)s"),
        ("SELECT :a -- :a\n", "SELECT %(a)s -- :a\n"),
        ("SELECT /* :a /* :a */ */ :a", "SELECT /* :a /* :a */ */ %(a)s"),
        ("SELECT arr[1:2], arr[lo:hi], :a", "SELECT arr[1:2], arr[lo:hi], %(a)s"),
        ("SELECT '5%' || :a || '%%'", "SELECT '5%%' || %(a)s || '%%%%'"),
        ("SELECT :a, :a", "SELECT %(a)s, %(a)s"),
        ("SELECT (:a)", "SELECT (%(a)s)"),
        ("SELECT x FROM t WHERE y IN (:a,:a)", "SELECT x FROM t WHERE y IN (%(a)s,%(a)s)"),
    ],
)
def test_translate_rewrites_only_real_placeholders(sql: str, expected: str) -> None:
    assert translate(sql, ["a"])[0] == expected


def test_translate_reports_the_names_used() -> None:
    assert translate("SELECT :b, :a, :b", ["a", "b", "unused"]) == (
        "SELECT %(b)s, %(a)s, %(b)s",
        ["b", "a"],
    )
    assert placeholder_names("SELECT :x, ':y', :z::int, :x") == ["x", "z"]


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(ParameterError, match=":b"):
        translate("SELECT :a, :b", ["a"])


def test_bind_parameters_without_parameters_leaves_sql_untouched() -> None:
    assert bind_parameters("SELECT '50%' :: text", None) == ("SELECT '50%' :: text", None)


def test_bind_parameters_rejects_duplicate_names() -> None:
    with pytest.raises(ParameterError, match="more than once"):
        bind_parameters("SELECT :a", [{"name": "a", "value": "1"}, {"name": "a", "value": "2"}])


names = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True)
hostile = st.text(alphabet="'\";:%$-/*\\ab \n", min_size=1, max_size=20)


@given(st.dictionaries(names, hostile, min_size=1, max_size=5))
def test_values_never_reach_the_sql_text(params: dict[str, str]) -> None:
    sql = "SELECT " + ", ".join(f":{name}" for name in params)
    query, bound = bind_parameters(sql, [{"name": k, "value": v} for k, v in params.items()])
    assert bound == params
    assert query == "SELECT " + ", ".join(f"%({name})s" for name in params)


@given(st.text(alphabet="abc '\"$:%-/*\n[]1", max_size=40))
def test_sql_without_placeholders_only_has_percent_doubled(sql: str) -> None:
    names = placeholder_names(sql)
    query, used = translate(sql, names)
    assert used == names
    if not names:
        assert query == sql.replace("%", "%%")


# -- request validation -------------------------------------------------------------


def _validation_message(operation: str, request: object) -> str:
    with pytest.raises(ApiError) as exc:
        validate_request(operation, request)
    assert exc.value.code == "ValidationException"
    return exc.value.message


def test_validation_follows_the_service_model() -> None:
    validate_request("ExecuteStatement", {"Sql": "SELECT 1", "WorkgroupName": "wg1"})
    assert "Value null at 'sql'" in _validation_message("ExecuteStatement", {})
    assert "enum value set: [JSON, CSV]" in _validation_message(
        "ExecuteStatement", {"Sql": "SELECT 1", "ResultFormat": "XML"}
    )
    assert "regular expression" in _validation_message("DescribeStatement", {"Id": "nope"})
    assert "type integer" in _validation_message("ListStatements", {"MaxResults": "10"})
    assert "less than or equal to 100" in _validation_message("ListStatements", {"MaxResults": 101})
    assert "'parameters.1.member.value'" in _validation_message(
        "ExecuteStatement", {"Sql": "x", "Parameters": [{"name": "a", "value": ""}]}
    )
    assert "2 validation errors" in _validation_message(
        "BatchExecuteStatement", {"Sqls": [], "ResultFormat": "XML"}
    )
    # Members the model does not know are ignored, as AWS ignores them.
    validate_request("DescribeStatement", {"Id": "00000000-0000-4000-8000-000000000000", "X": 1})

"""Unit tests of the extract side without a warehouse: Data API value conversion,
``:name`` translation for the direct source, configuration and error hygiene."""

from __future__ import annotations

import csv
import io
import math
import socket
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynamo.extract import ExtractError
from dynamo.extract.data_api import (
    CsvPageParser,
    DataApiSource,
    column_converter,
    csv_column_converter,
    parse_timestamp,
    record_converter,
    short_sql,
)
from dynamo.extract.direct import DirectSource, ParameterError, to_qmark

# Column metadata as GetStatementResult returns it (trimmed to what matters).
INT8 = {"name": "clientid", "typeName": "int8", "precision": 19, "scale": 0}
NUMERIC = {"name": "amount", "typeName": "numeric", "precision": 12, "scale": 2}
VARCHAR = {"name": "nature", "typeName": "varchar", "precision": 16, "scale": 0}


def _data_api(**kwargs: Any) -> DataApiSource:
    # Making a boto3 client does no I/O; nothing here sends a request.
    return DataApiSource(region="us-east-1", **kwargs)


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


def test_short_sql_is_one_bounded_line() -> None:
    assert short_sql("\n  SELECT a,\n b FROM t") == "SELECT a, ..."
    long = "SELECT " + ", ".join(f"column_{i}" for i in range(50))
    preview = short_sql(long)
    assert len(preview) <= 80 and preview.endswith("...") and "\n" not in preview


# --------------------------------------------------------------------------- Data API setup


class TestDataApiConfiguration:
    @pytest.mark.parametrize(
        "kwargs",
        [
            {},
            {"cluster": "c1"},
            {"db_user": "u"},
            {"workgroup": "w", "cluster": "c1"},
            {"workgroup": "w", "db_user": "u"},
            {"secret_arn": "arn:s", "db_user": "u"},
        ],
    )
    def test_bad_auth_combinations(self, kwargs: dict[str, str]) -> None:
        with pytest.raises(ValueError, match=r"cluster|secret_arn|workgroup"):
            _data_api(**kwargs)

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"cluster": "c1", "db_user": "u"},
            {"secret_arn": "arn:s"},
            {"secret_arn": "arn:s", "cluster": "c1"},
            {"workgroup": "w"},
            {"workgroup": "w", "secret_arn": "arn:s"},
        ],
    )
    def test_good_auth_combinations(self, kwargs: dict[str, str]) -> None:
        source = _data_api(**kwargs)
        assert source.client.meta.service_model.service_name == "redshift-data"

    def test_from_settings_cluster_defaults(self) -> None:
        source = DataApiSource.from_settings(
            {"CLUSTER": "c1", "AWS_REGION": "eu-west-1", "DBUSER": None, "SECRET_ARN": ""}
        )
        assert (source.database, source.cluster, source.db_user) == ("dev", "c1", "awsuser")
        assert source.statement_timeout == 3600.0
        assert source.client.meta.region_name == "eu-west-1"

    def test_from_settings_secret_and_workgroup(self) -> None:
        secret = DataApiSource.from_settings(
            {"SECRET_ARN": "arn:s", "CLUSTER": "c1", "DATABASE": "db", "AWS_REGION": "us-east-1"}
        )
        assert (secret.secret_arn, secret.cluster, secret.db_user) == ("arn:s", "c1", None)
        serverless = DataApiSource.from_settings(
            {"WORKGROUP": "w", "CLUSTER": "c1", "STATEMENT_TIMEOUT": "12.5", "AWS_REGION": "x-1"}
        )
        assert (serverless.workgroup, serverless.cluster) == ("w", None)
        assert serverless.statement_timeout == 12.5

    def test_from_settings_without_target_fails_clearly(self) -> None:
        with pytest.raises(ValueError, match="cluster"):
            DataApiSource.from_settings({"AWS_REGION": "us-east-1", "DBUSER": "u"})

    def test_endpoint_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("AWS_ENDPOINT_URL_REDSHIFT_DATA", "http://127.0.0.1:1")
        assert _data_api(workgroup="w").client.meta.endpoint_url == "http://127.0.0.1:1"

    def test_missing_region_is_a_clear_error(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
    ) -> None:
        for key in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
            monkeypatch.delenv(key, raising=False)
        monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
        with pytest.raises(ValueError, match="AWS_REGION"):
            DataApiSource(workgroup="w")

    def test_parameters_are_checked_before_any_request(self) -> None:
        # An unroutable endpoint: a request would fail differently (and slowly).
        source = _data_api(workgroup="w", endpoint_url="http://127.0.0.1:1")
        with pytest.raises(ValueError, match="name"):
            source.rows("SELECT :a", {"a-b": 1})
        with pytest.raises(ValueError, match=":a"):
            source.rows("SELECT :a", {"a": ""})

    def test_result_format(self) -> None:
        assert _data_api(workgroup="w").result_format == "JSON"
        assert _data_api(workgroup="w", result_format="CSV").result_format == "CSV"
        assert _data_api(workgroup="w", result_format="csv").result_format == "CSV"
        for bad in ("XML", "", "json-csv"):
            with pytest.raises(ValueError, match="result_format"):
                _data_api(workgroup="w", result_format=bad)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(None, "JSON"), ("", "JSON"), ("json", "JSON"), ("csv", "CSV"), ("CSV", "CSV")],
    )
    def test_result_format_from_settings(self, value: str | None, expected: str) -> None:
        source = DataApiSource.from_settings(
            {"WORKGROUP": "w", "AWS_REGION": "us-east-1", "DATA_API_RESULT_FORMAT": value}
        )
        assert source.result_format == expected

    def test_bad_result_format_setting(self) -> None:
        with pytest.raises(ValueError, match="result_format"):
            DataApiSource.from_settings(
                {"WORKGROUP": "w", "AWS_REGION": "us-east-1", "DATA_API_RESULT_FORMAT": "parquet"}
            )

    def test_repr_names_the_target(self) -> None:
        text = repr(_data_api(cluster="c1", db_user="awsuser"))
        assert text == "DataApiSource(database='dev', cluster='c1', db_user='awsuser')"
        csv_source = _data_api(workgroup="w", result_format="csv")
        assert (
            repr(csv_source) == "DataApiSource(database='dev', workgroup='w', result_format='CSV')"
        )


# --------------------------------------------------------------------------- :name


class TestToQmark:
    def test_simple_and_values_as_text(self) -> None:
        sql, args = to_qmark("SELECT * FROM t WHERE id > :last LIMIT :n", {"last": 5, "n": "10"})
        assert sql == "SELECT * FROM t WHERE id > ? LIMIT ?"
        assert args == ["5", "10"]

    def test_repeated_name_is_bound_each_time(self) -> None:
        sql, args = to_qmark("SELECT :a, :b, :a", {"a": 1, "b": 2})
        assert (sql, args) == ("SELECT ?, ?, ?", ["1", "2", "1"])

    def test_casts_are_not_parameters(self) -> None:
        sql, args = to_qmark("SELECT :n::int, x::numeric(12,2), y :: text", {"n": 1})
        assert sql == "SELECT ?::int, x::numeric(12,2), y :: text"
        assert args == ["1"]

    @pytest.mark.parametrize(
        "literal",
        [
            "':a'",
            "'it''s :a'",
            "E'\\' :a'",
            '":a"',
            '"a"":a"',
            "$$ :a $$",
            "$body$ :a $body$",
            "/* :a /* nested :a */ :a */",
        ],
    )
    def test_literals_identifiers_and_comments_are_left_alone(self, literal: str) -> None:
        sql, args = to_qmark(f"SELECT {literal}, :b", {"b": 2})
        assert sql == f"SELECT {literal}, ?"
        assert args == ["2"]

    def test_line_comment(self) -> None:
        sql, args = to_qmark("SELECT 1 -- :a\n, :b", {"b": 2})
        assert (sql, args) == ("SELECT 1 -- :a\n, ?", ["2"])

    def test_array_slice_and_lone_colon(self) -> None:
        sql, args = to_qmark("SELECT a[1:2], x[:n], ': ' || b : c", {"n": 3})
        assert sql == "SELECT a[1:2], x[?], ': ' || b : c"
        assert args == ["3"]

    def test_missing_value(self) -> None:
        with pytest.raises(ParameterError, match=":missing") as info:
            to_qmark("SELECT :present, :missing", {"present": 1})
        assert isinstance(info.value, ExtractError) and isinstance(info.value, ValueError)

    def test_unused_values_are_ignored(self) -> None:
        assert to_qmark("SELECT :a", {"a": 1, "b": 2}) == ("SELECT ?", ["1"])

    def test_bare_question_mark_is_refused(self) -> None:
        # The driver would take it for a placeholder of its own.
        with pytest.raises(ParameterError):
            to_qmark("SELECT ? , :a", {"a": 1})
        assert to_qmark("SELECT '?', :a -- why?", {"a": 1}) == ("SELECT '?', ? -- why?", ["1"])

    def test_the_rows_call_checks_parameters_before_any_connection(self) -> None:
        source = DirectSource(host="127.0.0.1", port=_closed_port(), password="pw")
        with pytest.raises(ParameterError, match=":b"):
            source.rows("SELECT :a, :b", {"a": 1})
        # Without parameters the SQL runs as written: nothing to check, nothing run yet.
        source.rows("SELECT :a", {})

    @given(
        st.lists(
            st.sampled_from(
                [" :p ", " :q ", "::int", " ':p' ", ' ":q" ', " -- :p\n", " /* :q */ ", " x ", ","]
            ),
            max_size=30,
        )
    )
    def test_only_placeholders_change(self, tokens: list[str]) -> None:
        sql = "SELECT" + "".join(tokens)
        out, args = to_qmark(sql, {"p": "P", "q": "Q"})
        placeholders = {" :p ": "P", " :q ": "Q"}
        assert args == [placeholders[t] for t in tokens if t in placeholders]
        assert out == "SELECT" + "".join(" ? " if t in placeholders else t for t in tokens)


# --------------------------------------------------------------------------- direct setup


class TestDirectConfiguration:
    def test_from_settings(self) -> None:
        source = DirectSource.from_settings(
            {
                "REDSHIFT_HOST": "h",
                "REDSHIFT_PORT": "5440",
                "DBUSER": "etl",
                "REDSHIFT_PASSWORD": "pw",
                "REDSHIFT_IAM": "false",
                "STATEMENT_TIMEOUT": None,
            }
        )
        assert (source.host, source.port, source.database, source.user) == ("h", 5440, "dev", "etl")
        assert source.statement_timeout == 3600.0 and not source.iam

    def test_from_settings_iam(self) -> None:
        source = DirectSource.from_settings(
            {"REDSHIFT_IAM": "TRUE", "CLUSTER": "c1", "AWS_REGION": "eu-west-1"}
        )
        assert source.iam and source.cluster_identifier == "c1" and source.db_user == "awsuser"

    def test_bad_settings(self) -> None:
        with pytest.raises(ValueError, match="REDSHIFT_IAM"):
            DirectSource.from_settings({"REDSHIFT_HOST": "h", "REDSHIFT_IAM": "maybe"})
        with pytest.raises(ValueError, match="host"):
            DirectSource.from_settings({"REDSHIFT_PASSWORD": "pw"})
        with pytest.raises(ValueError, match="cluster_identifier"):
            DirectSource(iam=True, db_user="u")

    def test_password_never_shown(self) -> None:
        password = "s3cr3t-Pa55"
        source = DirectSource(host="127.0.0.1", port=_closed_port(), password=password, timeout=2)
        assert password not in repr(source) and password not in str(source)
        with pytest.raises(ExtractError) as info:
            list(source.rows("SELECT 1"))
        message = str(info.value)
        assert "127.0.0.1" in message and password not in message
        assert "\n" not in message
        assert info.value.__cause__ is None  # the driver's error is not chained
        chain: BaseException | None = info.value
        while chain is not None:
            assert password not in str(chain)
            chain = chain.__cause__

    def test_closed_source_refuses_statements(self) -> None:
        source = DirectSource(host="127.0.0.1", port=_closed_port(), password="pw")
        source.close()
        with pytest.raises(ExtractError, match="closed"):
            list(source.rows("SELECT 1"))


def _closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

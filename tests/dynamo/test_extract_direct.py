"""Unit tests of :mod:`dynamo.extract.direct` without a warehouse: ``:name``
translation, configuration and error hygiene."""

from __future__ import annotations

import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dynamo.config import ConfigError, Settings
from dynamo.extract import ExtractError
from dynamo.extract.direct import DirectSource, ParameterError, to_qmark
from tests.support.settings import settings_of
from tests.support.silent import silent_endpoint

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
            Settings(redshift_host="h", redshift_port=5440, dbuser="etl", redshift_password="pw")
        )
        assert (source.host, source.port, source.user) == ("h", 5440, "etl")
        assert (source.database, source.statement_timeout) == (
            Settings.database,
            Settings.statement_timeout,
        )
        assert not source.iam

    def test_from_settings_iam(self) -> None:
        source = DirectSource.from_settings(
            Settings(redshift_iam=True, cluster="c1", aws_region="eu-west-1")
        )
        assert source.iam and source.cluster_identifier == "c1"
        assert source.db_user == Settings.dbuser

    def test_environment_flags_reach_the_driver_as_booleans(self) -> None:
        env = {"REDSHIFT_HOST": "h", "REDSHIFT_SSL": "off", "REDSHIFT_PORT": "5440"}
        source = DirectSource.from_settings(settings_of(env))
        options = source._DirectSource__options  # type: ignore[attr-defined]
        assert options["ssl"] is False and options["port"] == 5440
        with pytest.raises(ConfigError, match="REDSHIFT_IAM"):
            settings_of({"REDSHIFT_HOST": "h", "REDSHIFT_IAM": "maybe"})

    def test_bad_settings(self) -> None:
        with pytest.raises(ValueError, match="host"):
            DirectSource.from_settings(Settings(redshift_password="pw"))
        with pytest.raises(ValueError, match="cluster_identifier"):
            DirectSource(iam=True, db_user="u")

    @pytest.mark.integration
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


class TestSilentWarehouse:
    """An endpoint that accepts connections and never answers (a half-dead host, a
    firewall that lets the handshake through): the run must end, with one line."""

    @pytest.mark.integration
    @pytest.mark.parametrize("ssl", ["true", "false"])
    def test_connecting_gives_up_after_aws_connect_timeout(self, ssl: str) -> None:
        with silent_endpoint() as port:
            source = DirectSource.from_settings(
                settings_of(
                    {
                        "REDSHIFT_HOST": "127.0.0.1",
                        "REDSHIFT_PORT": str(port),
                        "REDSHIFT_PASSWORD": "s3cr3t-Pa55",
                        "REDSHIFT_SSL": ssl,
                        "AWS_CONNECT_TIMEOUT": "0.5",
                    }
                )
            )
            with pytest.raises(ExtractError) as info:
                list(source.rows("SELECT 1"))
        message = str(info.value)
        assert message.startswith(f"direct connection to 127.0.0.1:{port}/dev failed: ")
        assert "no answer within 0.5 s (AWS_CONNECT_TIMEOUT)" in message
        assert "check REDSHIFT_HOST and REDSHIFT_PORT" in message
        assert "\n" not in message and "s3cr3t-Pa55" not in message

    def test_timeouts_come_from_the_settings(self) -> None:
        settings = {"REDSHIFT_HOST": "h", "AWS_CONNECT_TIMEOUT": "7", "AWS_READ_TIMEOUT": "9"}
        source = DirectSource.from_settings(settings_of({**settings, "STATEMENT_TIMEOUT": "60"}))
        assert (source.connect_timeout, source.read_timeout) == (7.0, 9.0)
        # Once connected, a statement may take STATEMENT_TIMEOUT, its answer AWS_READ_TIMEOUT.
        assert source.answer_timeout == 69.0
        defaults = DirectSource.from_settings(Settings(redshift_host="h"))
        assert (defaults.connect_timeout, defaults.read_timeout) == (
            Settings.aws_connect_timeout,
            Settings.aws_read_timeout,
        )
        unlimited = DirectSource(host="h", timeout=3, statement_timeout=None, read_timeout=5)
        assert unlimited.answer_timeout is None  # no statement limit: no limit on its answer
        with pytest.raises(ConfigError, match="AWS_CONNECT_TIMEOUT"):
            settings_of({**settings, "AWS_CONNECT_TIMEOUT": "0"})


def _closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

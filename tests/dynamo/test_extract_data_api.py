"""Unit tests of :class:`~dynamo.extract.data_api.DataApiSource` without a warehouse:
its configuration, and the parameters it checks before any request."""

from __future__ import annotations

from typing import Any

import pytest

from dynamo.config import Settings
from dynamo.extract import open_source
from dynamo.extract.data_api import MAX_ATTEMPTS, TIMEOUT_ATTEMPTS, DataApiSource
from dynamo.extract.direct import DirectSource
from tests.support.settings import settings_of


def _data_api(**kwargs: Any) -> DataApiSource:
    # Making a boto3 client does no I/O; nothing here sends a request.
    return DataApiSource(region="us-east-1", **kwargs)


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
        source = DataApiSource.from_settings(Settings(cluster="c1", aws_region="eu-west-1"))
        assert (source.database, source.cluster, source.db_user) == (
            Settings.database,
            "c1",
            Settings.dbuser,
        )
        assert source.statement_timeout == Settings.statement_timeout
        assert source.client.meta.region_name == "eu-west-1"

    def test_from_settings_secret_and_workgroup(self) -> None:
        secret = DataApiSource.from_settings(
            Settings(secret_arn="arn:s", cluster="c1", database="db", aws_region="us-east-1")
        )
        assert (secret.secret_arn, secret.cluster, secret.db_user) == ("arn:s", "c1", None)
        serverless = DataApiSource.from_settings(
            Settings(workgroup="w", cluster="c1", statement_timeout=12.5, aws_region="x-1")
        )
        assert (serverless.workgroup, serverless.cluster) == ("w", None)
        assert serverless.statement_timeout == 12.5

    def test_from_settings_without_target_fails_clearly(self) -> None:
        with pytest.raises(ValueError, match="cluster"):
            DataApiSource.from_settings(Settings(aws_region="us-east-1", dbuser="u"))

    def test_environment_values_reach_the_source_typed(self) -> None:
        env = {
            "WORKGROUP": "w",
            "AWS_REGION": "us-east-1",
            "STATEMENT_TIMEOUT": "12.5",
            "MAX_RETRIES": "3",
            "DATA_API_RESULT_FORMAT": "json",
        }
        source = DataApiSource.from_settings(settings_of(env))
        assert (source.statement_timeout, source.max_retries) == (12.5, 3)
        assert type(source.statement_timeout) is float and type(source.max_retries) is int
        assert source.result_format == "JSON"

    def test_open_source_follows_the_source_setting(self) -> None:
        data_api = open_source(Settings(workgroup="w", aws_region="us-east-1"))
        direct = open_source(Settings(source="direct", redshift_host="h", redshift_port=5440))
        assert isinstance(data_api, DataApiSource) and data_api.result_format == "CSV"
        assert isinstance(direct, DirectSource) and direct.port == 5440
        direct.close()
        data_api.close()

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
        ("value", "expected"), [(None, "CSV"), ("json", "JSON"), ("csv", "CSV"), ("CSV", "CSV")]
    )
    def test_result_format_from_settings(self, value: str | None, expected: str) -> None:
        env = {"WORKGROUP": "w", "AWS_REGION": "us-east-1"}
        if value is not None:
            env["DATA_API_RESULT_FORMAT"] = value
        source = DataApiSource.from_settings(settings_of(env))
        assert source.result_format == expected

    def test_repr_names_the_target(self) -> None:
        text = repr(_data_api(cluster="c1", db_user="awsuser"))
        assert text == "DataApiSource(database='dev', cluster='c1', db_user='awsuser')"
        csv_source = _data_api(workgroup="w", result_format="csv")
        assert (
            repr(csv_source) == "DataApiSource(database='dev', workgroup='w', result_format='CSV')"
        )


class TestDataApiTimeoutsAndRetries:
    def test_defaults_bound_a_silent_endpoint_to_about_a_minute(self) -> None:
        source = DataApiSource.from_settings(Settings(workgroup="w", aws_region="us-east-1"))
        config = source.client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (5.0, 20.0)
        assert config.retries["total_max_attempts"] == MAX_ATTEMPTS
        assert source.max_retries == Settings.max_retries == 20
        # What one request can wait on an endpoint that accepts and never answers
        # (botocore's backoff between the tries adds at most a few seconds).
        assert TIMEOUT_ATTEMPTS * config.read_timeout <= 60

    def test_settings_are_passed_to_the_client(self) -> None:
        source = DataApiSource.from_settings(
            settings_of(
                {
                    "WORKGROUP": "w",
                    "AWS_REGION": "us-east-1",
                    "AWS_CONNECT_TIMEOUT": "1.5",
                    "AWS_READ_TIMEOUT": "7",
                    "MAX_RETRIES": "4",
                }
            )
        )
        config = source.client.meta.config
        assert (config.connect_timeout, config.read_timeout) == (1.5, 7.0)
        assert source.max_retries == 4

    def test_the_sync_settings_reach_the_source(self) -> None:
        settings = Settings(
            workgroup="w", aws_region="us-east-1", max_retries=3, aws_read_timeout=9
        )
        source = DataApiSource.from_settings(settings)
        assert source.max_retries == 3
        assert source.client.meta.config.read_timeout == 9.0

    @pytest.mark.parametrize(
        "kwargs",
        [{"max_retries": -1}, {"max_attempts": 0}, {"read_timeout": 0}, {"connect_timeout": -1}],
    )
    def test_bad_retry_and_timeout_values(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            _data_api(workgroup="w", **kwargs)

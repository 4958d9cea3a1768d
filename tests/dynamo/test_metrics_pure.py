"""The run's metrics without CloudWatch: what a finished run sends, when, and what a
failure to send does (nothing to the run)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoRegionError

from dynamo import metrics
from dynamo.config import ConfigError, Settings
from dynamo.metrics import MetricsPublisher, metric_data
from dynamo.runs import exclusive_run

TWO_TABLES = {
    "ci": {"items": 10, "deleted": 2, "unchanged": 5, "write_units": 12, "retries": 1},
    "ciby": {"items": 7, "pruned": 3, "write_units": 30},
}


def _values(data: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """(metric name, table or "") -> value."""
    out = {}
    for d in data:
        table = d["Dimensions"][0]["Value"] if "Dimensions" in d else ""
        assert (d["MetricName"], table) not in out, "each metric once"
        out[d["MetricName"], table] = d["Value"]
    return out


def test_the_metric_names_are_the_templates() -> None:
    """The alarms of the CloudFormation template read these names: renaming one here
    without the template silences an alarm."""
    assert (metrics.RUN_FAILED, metrics.RUN_SUCCEEDED) == ("RunFailed", "RunSucceeded")
    assert (metrics.RUN_SECONDS, metrics.ITEMS_WRITTEN) == ("RunSeconds", "ItemsWritten")
    assert (metrics.ITEMS_DELETED, metrics.WRITE_UNITS) == ("ItemsDeleted", "WriteUnits")
    assert metrics.TABLE_DIMENSION == "Table" and metrics.DEFAULT_NAMESPACE == "Contabyx"


def test_the_readme_recommends_the_default_namespace() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert f"`METRICS_NAMESPACE` set (recommended: `{metrics.DEFAULT_NAMESPACE}`," in readme


def test_a_succeeded_run_sends_its_counts_in_total_and_per_table() -> None:
    values = _values(metric_data("succeeded", 1000.0, 1042.25, TWO_TABLES))
    assert values == {
        ("RunFailed", ""): 0,
        ("RunSucceeded", ""): 1,
        ("RunSeconds", ""): 42.25,
        ("ItemsWritten", ""): 17,
        ("ItemsDeleted", ""): 5,
        ("WriteUnits", ""): 42,
        ("ItemsWritten", "ci"): 10,
        ("ItemsDeleted", "ci"): 2,
        ("WriteUnits", "ci"): 12,
        ("ItemsWritten", "ciby"): 7,
        ("ItemsDeleted", "ciby"): 3,
        ("WriteUnits", "ciby"): 30,
    }


def test_a_rejected_run_completed() -> None:
    values = _values(metric_data("rejected", 0.0, 1.0, TWO_TABLES))
    assert (values["RunFailed", ""], values["RunSucceeded", ""]) == (0, 1)


def test_a_failed_run_sends_its_failure_and_no_counts() -> None:
    values = _values(metric_data("failed", 0.0, 3.0, {}))
    assert values == {("RunFailed", ""): 1, ("RunSucceeded", ""): 0, ("RunSeconds", ""): 3.0}


def test_units_and_time_are_the_runs_end() -> None:
    data = metric_data("succeeded", 0.0, 1_800_000_000.0, TWO_TABLES)
    assert {d["Timestamp"] for d in data} == {datetime.fromtimestamp(1.8e9, tz=timezone.utc)}
    units = {d["MetricName"]: d["Unit"] for d in data}
    assert units.pop("RunSeconds") == "Seconds" and set(units.values()) == {"Count"}


def test_more_metrics_than_one_call_takes_is_refused() -> None:
    tables = {f"t{i}": {"items": 1} for i in range(400)}
    with pytest.raises(ValueError, match="exceed PutMetricData's 1000 per call"):
        metric_data("succeeded", 0.0, 1.0, tables)


# --------------------------------------------------------------------------- settings


def test_publishing_is_off_by_default_and_for_an_empty_namespace() -> None:
    assert Settings().metrics_namespace is None
    assert MetricsPublisher.from_settings(Settings()) is None
    assert MetricsPublisher.from_settings(Settings(metrics_namespace="")) is None
    publisher = MetricsPublisher.from_settings(Settings(metrics_namespace="Contabyx"))
    assert publisher is not None and publisher.namespace == "Contabyx"


@pytest.mark.parametrize("namespace", ["Contabyx", "a", "My App/Sync-1.2_x#", "x" * 255])
def test_a_cloudwatch_namespace_is_accepted(namespace: str) -> None:
    assert Settings(metrics_namespace=namespace).metrics_namespace == namespace


@pytest.mark.parametrize(
    ("namespace", "reason"),
    [
        ("AWS/DynamoDB", "AWS reserves"),
        (":Contabyx", "not starting with ':'"),
        ("x" * 256, "1-255"),
        ("Contabyx\n", "printable"),
        ("Contabyé", "ASCII"),
        ("   ", "printable"),
    ],
)
def test_what_is_not_a_cloudwatch_namespace(namespace: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=f"METRICS_NAMESPACE .*{reason}"):
        Settings(metrics_namespace=namespace)


# --------------------------------------------------------------------------- publishing


class _CloudWatch:
    """A CloudWatch client that records each call, or raises ``error``."""

    class meta:
        endpoint_url = "http://127.0.0.1:9"

    def __init__(self, error: Optional[Exception] = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def put_metric_data(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error


def _publisher(client: _CloudWatch, **settings: Any) -> MetricsPublisher:
    return MetricsPublisher(
        "Contabyx", Settings(metrics_namespace="Contabyx", **settings), client=client
    )


def test_a_run_is_one_call_with_all_its_metrics() -> None:
    client = _CloudWatch()
    assert _publisher(client).publish("succeeded", 0.0, 2.0, TWO_TABLES)
    [call] = client.calls
    assert call["Namespace"] == "Contabyx"
    assert call["MetricData"] == metric_data("succeeded", 0.0, 2.0, TWO_TABLES)


def _denied() -> ClientError:
    error = {"Error": {"Code": "AccessDenied", "Message": "not authorized"}}
    return ClientError(error, "PutMetricData")  # type: ignore[arg-type]


def _throttled() -> ClientError:
    error = {"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}
    return ClientError(error, "PutMetricData")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "fix"),
    [
        (_denied(), "grant cloudwatch:PutMetricData with cloudwatch:namespace Contabyx"),
        (_throttled(), "CloudWatch throttled all 3 attempts"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), "AWS_ENDPOINT_URL_CLOUDWATCH"),
        (NoRegionError(), "set AWS_REGION"),
        (RuntimeError("boom"), "report this as a bug"),
    ],
)
def test_a_failure_to_publish_is_one_warning_saying_what_to_fix(
    error: Exception, fix: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="dynamo.metrics"):
        assert _publisher(_CloudWatch(error)).publish("failed", 0.0, 1.0, {}) is False
    [record] = caplog.records
    line = record.getMessage()
    assert record.levelno == logging.WARNING and "\n" not in line
    assert "METRICS_NAMESPACE=Contabyx" in line and "http://127.0.0.1:9" in line
    assert fix in line and "the run's outcome is unchanged" in line


# --------------------------------------------------------------------------- the run's end


class _SyncTable:
    """The sync's DynamoDB table: takes every write (or fails the run record's end)."""

    def __init__(self, fail_end: bool = False) -> None:
        self.fail_end = fail_end

    def put_item(self, **kwargs: Any) -> None:
        if self.fail_end and "ended" in kwargs["Item"]:
            raise RuntimeError("DynamoDB went away")

    def delete_item(self, **_: Any) -> None:
        pass


class _Recorded:
    def __init__(self) -> None:
        self.runs: list[tuple[str, float, float, dict[str, Any]]] = []

    def publish(self, status: str, started: float, ended: float, tables: Any) -> bool:
        self.runs.append((status, started, ended, dict(tables)))
        return True


def _run(published: _Recorded, table: _SyncTable, fail: bool = False) -> None:
    with exclusive_run(table, "sync", "run-1", metrics=published) as (_, record):  # type: ignore[arg-type]
        record.counts({"ci": {"items": 4, "write_units": 4, "rejected": []}})
        if fail:
            raise RuntimeError("the warehouse went away")


def test_a_run_that_succeeds_publishes_its_counts_once() -> None:
    published = _Recorded()
    _run(published, _SyncTable())
    [(status, started, ended, tables)] = published.runs
    assert status == "succeeded" and started <= ended
    assert tables == {"ci": {"items": 4, "write_units": 4, "rejected": 0}}


def test_a_run_that_fails_inside_publishes_its_failure_and_raises() -> None:
    published = _Recorded()
    with pytest.raises(RuntimeError, match="the warehouse went away"):
        _run(published, _SyncTable(), fail=True)
    assert [run[0] for run in published.runs] == ["failed"]


def test_a_run_whose_end_cannot_be_recorded_still_publishes() -> None:
    published = _Recorded()
    _run(published, _SyncTable(fail_end=True))
    assert [run[0] for run in published.runs] == ["succeeded"]

"""The run's metrics reach CloudWatch: moto's server stands in for it, on loopback.

The tests without the local stack publish from :class:`dynamo.metrics.MetricsPublisher`
with whatever botocore is installed (``make min-versions`` runs them with the oldest
allowed one, which speaks CloudWatch's query protocol; newer ones speak
smithy-rpc-v2-cbor). The others run ``contabyx-etl run`` as cron does, pointed at the
stand-in with ``AWS_ENDPOINT_URL_CLOUDWATCH``, and read back what it published.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest

from devstack.procs import free_port
from dynamo.config import Settings
from dynamo.metrics import MetricsPublisher
from dynamo.runs import LEASE_KEY
from tests.support import synced
from tests.support.cloudwatch import REGION, client, published

pytestmark = pytest.mark.integration

TABLES = ("metrics_ci", "metrics_ciby")


def every_metric(url: str) -> list[dict[str, Any]]:
    return list(client(url).list_metrics()["Metrics"])


# --------------------------------------------------------------------------- the publisher


def _settings(endpoint: str, namespace: str) -> Settings:
    return Settings(
        metrics_namespace=namespace,
        aws_endpoint_url_cloudwatch=endpoint,
        aws_region=REGION,
        aws_connect_timeout=1,
        aws_read_timeout=5,
    )


def test_the_installed_botocore_publishes_a_run(
    cloudwatch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    publisher = MetricsPublisher.from_settings(_settings(cloudwatch, "Contabyx"))
    assert publisher is not None
    ended = time.time()
    tables = {"t1": {"items": 5, "write_units": 6, "deleted": 1}}
    assert publisher.publish("rejected", ended - 2, ended, tables)
    values = published(cloudwatch, "Contabyx")
    assert values == {
        ("RunFailed", ""): 0,
        ("RunSucceeded", ""): 1,
        ("RunSeconds", ""): pytest.approx(2, abs=0.01),
        ("ItemsWritten", ""): 5,
        ("ItemsDeleted", ""): 1,
        ("WriteUnits", ""): 6,
        ("ItemsWritten", "t1"): 5,
        ("ItemsDeleted", "t1"): 1,
        ("WriteUnits", "t1"): 6,
    }


def test_a_closed_endpoint_costs_a_warning_within_the_attempts(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    closed = f"http://127.0.0.1:{free_port()}"
    publisher = MetricsPublisher.from_settings(_settings(closed, "Contabyx"))
    assert publisher is not None
    started = time.monotonic()
    assert publisher.publish("failed", 0.0, 1.0, {}) is False
    assert time.monotonic() - started < 30
    [line] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert closed in line and "AWS_ENDPOINT_URL_CLOUDWATCH" in line


# --------------------------------------------------------------------------- contabyx-etl run


@pytest.fixture(scope="module")
def seeded(local_stack: Any, warehouse: Any) -> Any:
    return synced.seeded(local_stack, warehouse, clients=40, seed=61, years=(2022, 2024))


@pytest.fixture()
def fresh(seeded: Any) -> Any:
    synced.fresh_tables(*TABLES)
    return seeded


def _etl(*args: str, **env: str) -> Any:
    return synced.etl(TABLES, *args, timeout=300, **env)


def test_a_run_publishes_its_success_and_counts(fresh: Any, cloudwatch: str) -> None:
    namespace = f"Contabyx/{uuid.uuid4().hex[:8]}"
    done = _etl(
        "run", "--json", METRICS_NAMESPACE=namespace, AWS_ENDPOINT_URL_CLOUDWATCH=cloudwatch
    )
    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr
    summary = json.loads(done.stdout)
    tables = summary["tables"]
    values = published(cloudwatch, namespace)
    assert values.pop(("RunFailed", "")) == 0
    assert values.pop(("RunSucceeded", "")) == 1
    assert 0 < values.pop(("RunSeconds", "")) <= summary["seconds"] + 5
    assert values.pop(("ItemsWritten", "")) == sum(t["items"] for t in tables.values()) > 0
    assert values.pop(("WriteUnits", "")) == sum(t["write_units"] for t in tables.values()) > 0
    assert values.pop(("ItemsDeleted", "")) == 0
    assert values == {
        (name, table): tables[table][key]
        for table in TABLES
        for name, key in (
            ("ItemsWritten", "items"),
            ("ItemsDeleted", "deleted"),
            ("WriteUnits", "write_units"),
        )
    }


def test_a_failed_run_publishes_its_failure_and_exits_as_before(
    fresh: Any, cloudwatch: str
) -> None:
    broken = {"VIEWS_SCHEMA": "no_such_schema", "AWS_ENDPOINT_URL_CLOUDWATCH": cloudwatch}
    without = _etl("run", METRICS_NAMESPACE="", **broken)
    done = _etl("run", METRICS_NAMESPACE="Contabyx", **broken)
    assert (done.returncode, without.returncode) == (1, 1)
    assert done.stderr.count("\n") == without.stderr.count("\n") == 1
    assert done.stderr.startswith("contabyx-etl: error: ") and "no_such_schema" in done.stderr
    values = published(cloudwatch, "Contabyx")
    assert values.pop(("RunSeconds", "")) > 0
    assert values == {("RunFailed", ""): 1, ("RunSucceeded", ""): 0}


def test_without_a_namespace_nothing_is_published(fresh: Any, cloudwatch: str) -> None:
    done = _etl("run", "--json", METRICS_NAMESPACE="", AWS_ENDPOINT_URL_CLOUDWATCH=cloudwatch)
    assert done.returncode == 0, done.stderr
    assert every_metric(cloudwatch) == []


def test_an_unreachable_cloudwatch_leaves_the_run_a_success(fresh: Any) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    done = _etl("run", METRICS_NAMESPACE="Contabyx", AWS_ENDPOINT_URL_CLOUDWATCH=closed)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("synced metrics_ci: ")
    [line] = done.stderr.strip().splitlines()
    assert " WARNING dynamo.metrics: run metrics not published " in line
    assert "METRICS_NAMESPACE=Contabyx" in line and closed in line
    assert "check AWS_ENDPOINT_URL_CLOUDWATCH" in line


def test_a_run_that_cannot_take_the_lease_publishes_its_failure(
    fresh: Any, cloudwatch: str
) -> None:
    """A missing sync table stops the run before it has a record: the failure alarm
    still hears of it."""
    done = _etl(
        "run",
        METRICS_NAMESPACE="Contabyx",
        SYNC_TABLE="no_such_sync_table",
        AWS_ENDPOINT_URL_CLOUDWATCH=cloudwatch,
    )
    assert done.returncode == 1
    assert "no_such_sync_table does not exist: run contabyx-etl create-tables" in done.stderr
    values = published(cloudwatch, "Contabyx")
    values.pop(("RunSeconds", ""))
    assert values == {("RunFailed", ""): 1, ("RunSucceeded", ""): 0}


def test_a_run_refused_for_another_runs_lease_publishes_nothing(
    fresh: Any, cloudwatch: str
) -> None:
    """Another run holds the lease: that one is syncing, so this is no failed sync."""
    holder = {"holder": {"S": "other-run"}, "host": {"S": "elsewhere"}, "pid": {"N": "1"}}
    expires = {
        "acquired": {"N": f"{time.time():.3f}"},
        "expires": {"N": f"{time.time() + 600:.3f}"},
    }
    boto3.client("dynamodb").put_item(
        TableName=synced.sync_table(TABLES), Item={**LEASE_KEY, **holder, **expires}
    )
    done = _etl("run", METRICS_NAMESPACE="Contabyx", AWS_ENDPOINT_URL_CLOUDWATCH=cloudwatch)
    assert done.returncode != 0 and "holds the sync's lease" in done.stderr
    assert every_metric(cloudwatch) == []

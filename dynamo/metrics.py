"""Each run's metrics in CloudWatch, published once at its end: the only module that
calls CloudWatch.

The metric names below are a contract with the CloudFormation template's alarms,
which read them without dimensions; they are stated here and nowhere else in the
code, so a rename is one change here and one in the template:

- ``RunFailed``: 1 when a run fails, 0 when it completes (the "sync failed" alarm);
- ``RunSucceeded``: 1 when a run completes (``succeeded``, or ``rejected``: every
  client stored but some, as :func:`dynamo.runs.last_success` counts it), 0 when it
  fails (the "no success for 26 h" alarm, which treats missing data as breaching);
- ``RunSeconds`` (Seconds), and, summed over the tables, ``ItemsWritten``,
  ``ItemsDeleted`` (an incremental run's deletions and ``--prune``'s) and
  ``WriteUnits`` (Count);
- the same three per table, with the dimension ``Table`` = the table's name.

Publishing is off unless ``METRICS_NAMESPACE`` is set; :data:`DEFAULT_NAMESPACE` is
the recommended value, the template's default and the namespace the IAM policy
(``config/iam/etl-policy.json``) allows. A failure to publish is one WARNING line and
never changes the run's outcome or exit status.

A run that fails while taking the sync's lease (its table missing, DynamoDB not
answering) publishes its failure as any failed run does. Two publish nothing: a run
refused because another run holds the lease (that one is syncing), and one whose
settings do not load (``METRICS_NAMESPACE`` may be among them); the "no success for
26 h" alarm covers both.

>>> data = metric_data("succeeded", 100.0, 112.5, {"ci": {"items": 3, "write_units": 4}})
>>> named = [(d["MetricName"], d["Value"], d.get("Dimensions")) for d in data]
>>> named  # doctest: +NORMALIZE_WHITESPACE
[('RunFailed', 0, None), ('RunSucceeded', 1, None), ('RunSeconds', 12.5, None),
 ('ItemsWritten', 3, None), ('ItemsDeleted', 0, None), ('WriteUnits', 4, None),
 ('ItemsWritten', 3, [{'Name': 'Table', 'Value': 'ci'}]),
 ('ItemsDeleted', 0, [{'Name': 'Table', 'Value': 'ci'}]),
 ('WriteUnits', 4, [{'Name': 'Table', 'Value': 'ci'}])]
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Optional

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, HTTPClientError, NoCredentialsError, NoRegionError
from botocore.exceptions import ConnectionError as BotoConnectionError

from dynamo.aws import ADMIN_ATTEMPTS
from dynamo.config import Settings
from dynamo.runs import REJECTED, SUCCEEDED

log = logging.getLogger(__name__)

#: The recommended namespace: the template's default and the IAM policy's condition.
DEFAULT_NAMESPACE = "Contabyx"

RUN_FAILED = "RunFailed"
RUN_SUCCEEDED = "RunSucceeded"
RUN_SECONDS = "RunSeconds"
ITEMS_WRITTEN = "ItemsWritten"
ITEMS_DELETED = "ItemsDeleted"
WRITE_UNITS = "WriteUnits"
#: The dimension of the per-table metrics.
TABLE_DIMENSION = "Table"

#: The statuses of a run that completed (``dynamo.runs.last_success`` counts the same).
COMPLETED = (SUCCEEDED, REJECTED)
#: A table's counts (as ``RunRecord.tables`` keeps them) that add up to each metric.
_COUNTS = {
    ITEMS_WRITTEN: ("items",),
    ITEMS_DELETED: ("deleted", "pruned"),
    WRITE_UNITS: ("write_units",),
}
#: PutMetricData takes at most 1000 metrics (and 1 MB) per call: one run with its two
#: tables sends 12. More tables than this would need a second call.
MAX_DATA = 1000


def metric_data(
    status: str, started: float, ended: float, tables: Mapping[str, Mapping[str, int]]
) -> list[dict[str, Any]]:
    """The ``MetricData`` of one finished run: its status, its start and end (epoch
    seconds) and its per-table counts (``RunRecord.tables``; empty when it failed).

    A run that ended without counts (it failed) gets no count metrics: zero would
    claim it wrote nothing, which is not known.
    """
    when = datetime.fromtimestamp(ended, tz=timezone.utc)
    completed = status in COMPLETED
    data = [
        _datum(RUN_FAILED, 0 if completed else 1, when),
        _datum(RUN_SUCCEEDED, 1 if completed else 0, when),
        _datum(RUN_SECONDS, round(max(ended - started, 0.0), 3), when, unit="Seconds"),
    ]
    if tables:
        for name, keys in _COUNTS.items():
            data.append(_datum(name, sum(_total(t, keys) for t in tables.values()), when))
        for table, counts in tables.items():
            data.extend(
                _datum(name, _total(counts, keys), when, table=table)
                for name, keys in _COUNTS.items()
            )
    if len(data) > MAX_DATA:
        raise ValueError(f"{len(data)} metrics exceed PutMetricData's {MAX_DATA} per call")
    return data


def _datum(
    name: str, value: float, when: datetime, *, unit: str = "Count", table: str = ""
) -> dict[str, Any]:
    out: dict[str, Any] = {"MetricName": name, "Value": value, "Unit": unit, "Timestamp": when}
    if table:
        out["Dimensions"] = [{"Name": TABLE_DIMENSION, "Value": table}]
    return out


def _total(counts: Mapping[str, int], keys: tuple[str, ...]) -> int:
    return sum(int(counts.get(key, 0)) for key in keys)


def cloudwatch_client(settings: Settings) -> Any:
    """A CloudWatch client bounded as the sync's DynamoDB administrative client is:
    ``AWS_CONNECT_TIMEOUT`` and ``AWS_READ_TIMEOUT`` per attempt, standard retries, at
    most :data:`dynamo.aws.ADMIN_ATTEMPTS` attempts. ``AWS_ENDPOINT_URL_CLOUDWATCH``
    (the setting, else boto3's own reading of the environment) names another endpoint.
    """
    config = Config(
        retries={"mode": "standard", "total_max_attempts": ADMIN_ATTEMPTS},
        connect_timeout=settings.aws_connect_timeout,
        read_timeout=settings.aws_read_timeout,
    )
    return boto3.Session().client(
        "cloudwatch",
        region_name=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url_cloudwatch,
        config=config,
    )


class MetricsPublisher:
    """Publishes each run's metrics to CloudWatch in ``namespace``, in one call::

        publisher = MetricsPublisher.from_settings(settings)  # None: METRICS_NAMESPACE unset
        if publisher is not None:
            publisher.publish("succeeded", started, ended, record.tables)  # never raises

    The client is made on the first :meth:`publish`, from ``settings`` (or is the one
    given, for tests).
    """

    def __init__(self, namespace: str, settings: Settings, *, client: Any = None) -> None:
        self.namespace = namespace
        self._settings = settings
        self._client = client

    @classmethod
    def from_settings(cls, settings: Settings) -> Optional[MetricsPublisher]:
        """A publisher for ``METRICS_NAMESPACE``, or None when it is unset (the default)."""
        return cls(settings.metrics_namespace, settings) if settings.metrics_namespace else None

    def publish(
        self, status: str, started: float, ended: float, tables: Mapping[str, Mapping[str, int]]
    ) -> bool:
        """Send the run's metrics; True if CloudWatch took them. A failure is logged as
        one WARNING line saying what to fix, and the run goes on as if it had not."""
        endpoint = self._settings.aws_endpoint_url_cloudwatch or "CloudWatch's regional endpoint"
        try:
            data = metric_data(status, started, ended, tables)
            if self._client is None:
                self._client = cloudwatch_client(self._settings)
            endpoint = self._client.meta.endpoint_url
            self._client.put_metric_data(Namespace=self.namespace, MetricData=data)
        except Exception as exc:  # the run's own outcome matters more than its metrics
            log.warning(
                "run metrics not published (METRICS_NAMESPACE=%s, endpoint %s): %s; %s; "
                "the run's outcome is unchanged",
                self.namespace,
                endpoint,
                " ".join(str(exc).split()) or type(exc).__name__,
                _fix(exc, self.namespace),
            )
            return False
        log.info("published %d run metrics to CloudWatch %s", len(data), self.namespace)
        return True


def _fix(exc: Exception, namespace: str) -> str:
    """What to do about a failed publication, in a few words."""
    code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
    if isinstance(exc, NoRegionError):
        return "set AWS_REGION"
    if isinstance(exc, NoCredentialsError) or "Token" in code or "Signature" in code:
        return "check the instance role or AWS_PROFILE"
    if "AccessDenied" in code or "Unauthorized" in code:
        return (
            f"grant cloudwatch:PutMetricData with cloudwatch:namespace {namespace} "
            "(statement PublishRunMetricsForEveryMode of config/iam/etl-policy.json)"
        )
    if "Throttl" in code:
        return f"CloudWatch throttled all {ADMIN_ATTEMPTS} attempts; the next run publishes again"
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return (
            "check AWS_ENDPOINT_URL_CLOUDWATCH, AWS_REGION and the network "
            "(or unset METRICS_NAMESPACE to publish nothing)"
        )
    if isinstance(exc, BotoCoreError) or code:
        return "check METRICS_NAMESPACE and the AWS settings"
    return "report this as a bug"

"""CloudWatch's local stand-in for the run-metrics tests: moto's server, on loopback.

The ``moto_server`` fixture (tests/conftest.py) starts one per session; ``cloudwatch``
(same place) empties it for each test. :func:`published` reads back what a run sent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3

import devstack.stack

REGION = devstack.stack.REGION


def serve() -> Iterator[str]:
    """moto's server on a free loopback port: its URL, until the generator is closed."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(url: str) -> Any:
    """A client of the stand-in, in the region every test here publishes to (the local
    stack's, for the command-line runs: moto keeps each region's metrics apart)."""
    return boto3.client(
        "cloudwatch",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def published(url: str, namespace: str) -> dict[tuple[str, str], float]:
    """(metric name, Table dimension or "") -> the sum of its data points in the last hour,
    as CloudWatch would answer.

    moto 5.2 answers a query without dimensions with the data of every dimension set of
    that name, where CloudWatch (and so the alarms) takes only the data published without
    dimensions: the per-table sums are taken back out of it here.
    """
    sums = _sums(url, namespace)
    exact = dict(sums)
    for (name, table), value in sums.items():
        if table and (name, "") in exact:
            exact[name, ""] -= value
    return exact


def _sums(url: str, namespace: str) -> dict[tuple[str, str], float]:
    cw = client(url)
    now = datetime.now(timezone.utc)
    out: dict[tuple[str, str], float] = {}
    for metric in cw.list_metrics(Namespace=namespace)["Metrics"]:
        points = cw.get_metric_statistics(
            Namespace=namespace,
            MetricName=metric["MetricName"],
            Dimensions=metric["Dimensions"],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        table = metric["Dimensions"][0]["Value"] if metric["Dimensions"] else ""
        out[metric["MetricName"], table] = sum(point["Sum"] for point in points)
    return out

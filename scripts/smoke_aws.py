"""Smoke test on a real AWS account: what the local stack cannot confirm.

Run it once, from a machine with the product's configuration (``config/.env`` and the
default credential chain), as someone allowed to create and delete DynamoDB tables::

    python scripts/smoke_aws.py

It checks, one line each:

- one statement through the Data API with each result format (JSON, CSV);
- one statement through the direct source (redshift-connector), when ``REDSHIFT_HOST``
  or ``REDSHIFT_IAM`` is set;
- one DynamoDB write with the sync's writer, and one lookup through ``contabyxAPI``,
  on two scratch tables whose names end in a unique suffix.

Everything it creates is deleted before it exits, even after a failure. It exits 0
when every check passed, 1 when one failed, 2 when it refused to run. It refuses to
run against loopback endpoints (the local stack) unless ``--local`` is given: the
local stack is what this script is meant to look past.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from decimal import Decimal
from typing import Any, Callable, Optional
from urllib.parse import urlparse

from contabyx import contabyxAPI
from dynamo.aws import dynamodb_client
from dynamo.config import ConfigError, Settings, load_settings
from dynamo.extract import Source
from dynamo.extract.data_api import DataApiSource
from dynamo.extract.direct import DirectSource
from dynamo.load import ItemWriter
from dynamo.shape import client_item
from dynamo.sync import new_run_id
from dynamo.tables import create_tables

#: Loopback names: an endpoint on one of them is the local stack, not AWS.
LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: The variables through which code reaches an endpoint other than AWS's.
ENDPOINT_KEYS = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_REDSHIFT_DATA")

#: One statement, with a bound parameter and a DECIMAL: both sources must type them.
STATEMENT = "SELECT CAST(:n AS INTEGER) + 1 AS n, CAST(:amount AS DECIMAL(18,2)) AS amount"
PARAMS = {"n": 41, "amount": "12.34"}
EXPECTED_ROW = (42, Decimal("12.34"))

#: The scratch client written and read back: clientid, balance, income, expense, counts.
SCRATCH_ROW = (424242, Decimal("-7.66"), Decimal("12.34"), Decimal("20.00"), 1, 2)


def local_endpoints(settings: Settings, environ: dict[str, str]) -> list[str]:
    """The configured endpoints that are on this machine (``KEY=value``).

    >>> local_endpoints(Settings(), {"AWS_ENDPOINT_URL": "http://127.0.0.1:8000"})
    ['AWS_ENDPOINT_URL=http://127.0.0.1:8000']
    """
    found = []
    for key in ENDPOINT_KEYS:
        value = environ.get(key) or ""
        if value and (urlparse(value).hostname or "") in LOOPBACK:
            found.append(f"{key}={value}")
    if (
        settings.aws_endpoint_url_dynamodb
        and (urlparse(settings.aws_endpoint_url_dynamodb).hostname or "") in LOOPBACK
    ):
        found.append(f"AWS_ENDPOINT_URL_DYNAMODB={settings.aws_endpoint_url_dynamodb}")
    if settings.redshift_host and settings.redshift_host in LOOPBACK:
        found.append(f"REDSHIFT_HOST={settings.redshift_host}")
    return sorted(set(found))


class Report:
    """One line per check: ``PASS name``, ``FAIL name: why`` or ``SKIP name: why``."""

    def __init__(self, out: Callable[[str], None] = print) -> None:
        self.failed = 0
        self._out = out

    def check(self, name: str, run: Callable[[], Optional[str]]) -> None:
        """Run one check; a returned string is a failure's reason, an exception too."""
        try:
            problem = run()
        except Exception as error:  # every failure is one reported line
            problem = _describe(error)
        if problem:
            self.fail(name, problem)
        else:
            self._out(f"PASS {name}")

    def fail(self, name: str, why: str) -> None:
        self.failed += 1
        self._out(f"FAIL {name}: {why}")

    def skip(self, name: str, why: str) -> None:
        self._out(f"SKIP {name}: {why}")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def _statement(source: Source) -> Optional[str]:
    try:
        rows = list(source.rows(STATEMENT, PARAMS))
    finally:
        source.close()
    if rows != [EXPECTED_ROW]:
        return f"expected [{EXPECTED_ROW!r}], got {rows!r}"
    return None


def check_sources(settings: Settings, report: Report) -> None:
    """One statement through each configured source, and both Data API result formats."""
    has_target = settings.cluster or settings.secret_arn or settings.workgroup
    for fmt in ("json", "csv"):
        name = f"data-api statement, {fmt.upper()} results"
        if not has_target:
            report.check(name, lambda: "set CLUSTER (with DBUSER), SECRET_ARN or WORKGROUP")
            continue
        chosen = dataclasses.replace(settings, data_api_result_format=fmt)
        report.check(name, lambda chosen=chosen: _statement(DataApiSource.from_settings(chosen)))
    if settings.redshift_host or settings.redshift_iam:
        report.check("direct statement", lambda: _statement(DirectSource.from_settings(settings)))
    else:
        report.skip("direct statement", "SOURCE=direct is not configured (REDSHIFT_HOST)")


@contextmanager
def scratch_tables(client: Any, suffix: str) -> Iterator[tuple[str, str]]:
    """Two tables named like the product's plus ``-smoke-<suffix>``, deleted on exit."""
    names = (f"clients_info-smoke-{suffix}", f"clients_info_by_year-smoke-{suffix}")
    try:
        create_tables(client, *names)
        yield names
    finally:
        for name in names:
            with suppress(client.exceptions.ResourceNotFoundException):
                client.delete_table(TableName=name)
        waiter = client.get_waiter("table_not_exists")
        for name in names:
            waiter.wait(TableName=name, WaiterConfig={"Delay": 2, "MaxAttempts": 60})


def check_dynamodb(settings: Settings, report: Report, suffix: str) -> None:
    """One write with the sync's writer, one lookup through contabyxAPI, on scratch tables."""
    client = dynamodb_client(
        region=settings.aws_region, endpoint_url=settings.aws_endpoint_url_dynamodb, retries=True
    )
    try:
        with scratch_tables(client, suffix) as (info, by_year):
            report.check("create scratch tables", lambda: None)

            def write() -> Optional[str]:
                with ItemWriter(client, workers=1, max_retries=settings.max_retries) as writer:
                    writer.put(info, client_item(SCRATCH_ROW, run=new_run_id()))
                written = writer.stats.items.get(info, 0)
                return None if written == 1 else f"{written} items written, expected 1"

            def lookup() -> Optional[str]:
                api = contabyxAPI(
                    region_name=settings.aws_region,
                    endpoint_url=settings.aws_endpoint_url_dynamodb,
                    clients_info_table=info,
                    clients_info_by_year_table=by_year,
                    consistent_read=True,
                )
                balance = api.balance(SCRATCH_ROW[0])
                return None if balance == float(SCRATCH_ROW[1]) else f"balance {balance!r}"

            report.check("dynamodb write (BatchWriteItem)", write)
            report.check("contabyxAPI lookup (GetItem)", lookup)
    except Exception as error:  # creating or deleting the tables failed
        report.fail("scratch tables", _describe(error))
    else:
        report.check("scratch tables deleted", lambda: None)
    finally:
        client.close()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--local",
        action="store_true",
        help="allow loopback endpoints (the local stack): for testing this script",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except (ConfigError, TypeError) as error:
        print(f"smoke_aws: {error}", file=sys.stderr)
        return 2
    local = local_endpoints(settings, dict(os.environ))
    if local and not args.local:
        print(
            "smoke_aws: these endpoints are on this machine, not AWS: "
            f"{', '.join(local)}; unset them (or pass --local to test this script)",
            file=sys.stderr,
        )
        return 2
    report = Report()
    suffix = uuid.uuid4().hex[:8]
    check_sources(settings, report)
    check_dynamodb(settings, report, suffix)
    print(f"{'FAILED' if report.failed else 'OK'}: {report.failed} check(s) failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())

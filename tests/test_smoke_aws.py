"""scripts/smoke_aws.py: refuses the local stack unless told, and runs whole on it.

The real run is on an AWS account; here the script runs with ``--local`` against the
test stack, so that its checks and its clean-up are exercised end to end.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from tests.conftest import LocalStack

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "smoke_aws.py"


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # An empty env file: only what the test passes is configured.
    full = {**os.environ, **env, "CONTABYX_ENV_FILE": os.devnull}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _smoke_tables(local_stack: LocalStack) -> list[str]:
    client = boto3.client("dynamodb", endpoint_url=local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"])
    names = client.list_tables()["TableNames"]
    return [name for name in names if "-smoke-" in name]


@pytest.mark.integration
def test_it_refuses_loopback_endpoints_without_local() -> None:
    env = {
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
        "AWS_REGION": "eu-west-1",
        "CLUSTER": "c",
    }
    result = _run(env)
    assert result.returncode == 2
    assert "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9" in result.stderr
    assert "--local" in result.stderr
    assert result.stdout == ""  # no check ran, nothing was called


def test_every_check_passes_on_the_local_stack_and_nothing_is_left(
    local_stack: LocalStack,
) -> None:
    before = _smoke_tables(local_stack)
    result = _run({**local_stack.env, "REDSHIFT_SSL": "false"}, "--local")
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    for check in (
        "PASS data-api statement, JSON results",
        "PASS data-api statement, CSV results",
        "PASS direct statement",
        "PASS dynamodb write (BatchWriteItem)",
        "PASS contabyxAPI lookup (GetItem)",
        "PASS scratch tables deleted",
    ):
        assert check in lines, result.stdout
    assert lines[-1] == "OK: 0 check(s) failed"
    assert _smoke_tables(local_stack) == before


def test_a_failed_check_exits_1_and_still_cleans_up(local_stack: LocalStack) -> None:
    before = _smoke_tables(local_stack)
    # Port 9 (discard) is closed here: the direct source cannot connect.
    env = {**local_stack.env, "REDSHIFT_SSL": "false", "REDSHIFT_PORT": "9"}
    result = _run(env, "--local")
    lines = result.stdout.splitlines()
    assert result.returncode == 1, result.stdout + result.stderr
    assert any(line.startswith("FAIL direct statement: ") for line in lines), result.stdout
    assert "PASS data-api statement, CSV results" in lines
    assert "PASS scratch tables deleted" in lines
    assert lines[-1] == "FAILED: 1 check(s) failed"
    assert _smoke_tables(local_stack) == before

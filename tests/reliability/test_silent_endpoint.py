"""An endpoint that accepts connections and never answers: every DynamoDB client of
the sync gives up after its read timeout, and ``create-tables`` after a bounded
number of attempts, with one line saying what to check."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dynamo.aws import ADMIN_ATTEMPTS
from dynamo.config import Settings
from dynamo.query import Insert
from tests.support.silent import SilentServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


def test_the_default_timeouts_bound_create_tables_to_about_a_minute() -> None:
    # Arithmetic on the configuration, not a measurement: each attempt costs at most
    # one connect timeout plus one read timeout.
    per_attempt = Settings.aws_connect_timeout + Settings.aws_read_timeout
    assert ADMIN_ATTEMPTS * Settings.aws_read_timeout <= 60
    assert ADMIN_ATTEMPTS * per_attempt <= 80


def test_insert_client_takes_the_timeouts_from_the_settings(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CONTABYX_ENV_FILE", str(empty))
        mp.setenv("AWS_REGION", "us-east-1")
        insert = Insert(aws_connect_timeout=2.5, aws_read_timeout=7)
        config = insert.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2.5, 7.0)


def test_create_tables_against_a_silent_endpoint_fails_with_one_line(
    silent: SilentServer, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOG_"))}
    env.update(
        CONTABYX_ENV_FILE=str(empty),
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="y",
        AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{silent.port}",
        AWS_CONNECT_TIMEOUT="1",
        AWS_READ_TIMEOUT="1",
        LOG_LEVEL="INFO",
    )
    # The timeout only guards against a hang: with 1 s reads this takes seconds.
    done = subprocess.run(
        [str(Path(sys.executable).parent / "contabyx-etl"), "create-tables"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    errors = [line for line in lines if line.startswith("contabyx-etl: error:")]
    assert errors == [lines[-1]]
    assert f"127.0.0.1:{silent.port}" in errors[0]
    assert "check AWS_ENDPOINT_URL_DYNAMODB" in errors[0]
    assert silent.accepted == ADMIN_ATTEMPTS
    retries = [line for line in lines if " INFO dynamo.aws: DynamoDB CreateTable attempt" in line]
    assert len(retries) == ADMIN_ATTEMPTS, done.stderr

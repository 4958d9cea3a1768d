"""A Data API endpoint that accepts connections and never answers.

Each request waits ``AWS_READ_TIMEOUT`` at most, botocore tries a silent endpoint a
bounded number of times (each retry logged at INFO), and the run fails with one line
that names the endpoint and what to check. The tests shorten the read timeout so as
not to wait a minute per test; they assert on outcomes, never on durations.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from dynamo.extract import ExtractError
from dynamo.extract.data_api import TIMEOUT_ATTEMPTS, DataApiSource
from tests.support import synced
from tests.support.settings import settings_of
from tests.support.silent import SilentServer

LOGGER = "dynamo.extract.data_api"
#: Bounds each test that could hang on the old code; never reached when all is well.
GUARD = 300.0


@pytest.fixture()
def silent() -> Iterator[SilentServer]:
    with SilentServer() as server:
        yield server


def _guarded(work: Any) -> Any:
    """Run ``work()`` in a thread; fail (not hang) if it never returns."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # reported to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(GUARD)
    assert outcome, f"still waiting after {GUARD:g} s: nothing bounds the wait"
    return outcome[0]


def test_a_silent_endpoint_fails_the_statement_in_one_line(
    local_stack: Any, silent: SilentServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    settings = {
        **local_stack.env,
        "AWS_ENDPOINT_URL_REDSHIFT_DATA": silent.url,
        "AWS_READ_TIMEOUT": "0.5",
        "AWS_CONNECT_TIMEOUT": "0.5",
    }
    with DataApiSource.from_settings(settings_of(settings)) as source:
        error = _guarded(lambda: list(source.rows("SELECT 1")))
    assert isinstance(error, ExtractError), error
    text = str(error)
    assert "\n" not in text
    assert text.startswith("statement (not submitted) ExecuteStatement failed: ")
    assert f"the Data API endpoint {silent.url} did not answer" in text
    assert "AWS_READ_TIMEOUT=0.5 s" in text and f"{TIMEOUT_ATTEMPTS} attempts" in text
    assert "AWS_ENDPOINT_URL_REDSHIFT_DATA" in text and "re-run" in text
    # A bounded number of tries, each on a new connection, each retry logged at INFO.
    assert silent.accepted == TIMEOUT_ATTEMPTS
    retries = [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.INFO and "retry" in r.getMessage()
    ]
    assert len(retries) == TIMEOUT_ATTEMPTS - 1, retries
    assert all("ReadTimeoutError" in line and silent.url in line for line in retries)


def test_the_cli_fails_in_one_line_naming_the_endpoint(
    local_stack: Any, silent: SilentServer
) -> None:
    env = {
        "AWS_ENDPOINT_URL_REDSHIFT_DATA": silent.url,
        "AWS_READ_TIMEOUT": "1",
        "SOURCE": "data-api",
    }
    done = _guarded(
        lambda: synced.etl(
            ("silent_ci", "silent_ciby"), "--log-level", "INFO", "create-views", **env
        )
    )
    assert done.returncode == 1, done
    lines = done.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("contabyx-etl: error: ")]
    assert len(errors) == 1 and errors[0] == lines[-1], lines
    assert f"the Data API endpoint {silent.url} did not answer" in errors[0]
    assert "Traceback" not in done.stderr
    assert sum(" INFO " in line and "retry" in line for line in lines) == TIMEOUT_ATTEMPTS - 1

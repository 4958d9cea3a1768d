"""Data API capacity errors on submission: a busy cluster and throttling.

A cluster runs at most 200 active Data API statements, shared with every other user of
it; one more is refused with ``ActiveStatementsExceededException``, and a busy account
is answered ``ThrottlingException``. The source retries both on ``ExecuteStatement`` and
``BatchExecuteStatement`` with the sync's one backoff, at most ``MAX_RETRIES`` times in
all (botocore does not retry them again underneath: each refusal is one attempt),
logging each retry at INFO, then fails with one line saying what to do. Faults come
from the fault proxy, and from the emulator's own quota (set low here).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from devstack.dataapi import DataApiServer
from devstack.faults import FaultProxy, Injection, Rule
from dynamo.extract import ExtractError
from dynamo.extract.data_api import DataApiSource
from tests.support.settings import settings_of

EXECUTE = "RedshiftData.ExecuteStatement"
BATCH = "RedshiftData.BatchExecuteStatement"
BUSY = "Active statements exceeded the allowed quota (200)."
LOGGER = "dynamo.extract.data_api"


@pytest.fixture()
def proxy(local_stack: Any) -> Iterator[FaultProxy]:
    with FaultProxy(local_stack.env["AWS_ENDPOINT_URL_REDSHIFT_DATA"]) as running:
        yield running


def _source(env: dict[str, str], endpoint: str, **settings: str) -> DataApiSource:
    return DataApiSource.from_settings(
        settings_of(
            {
                **env,
                "AWS_ENDPOINT_URL_REDSHIFT_DATA": endpoint,
                "DATA_API_RESULT_FORMAT": "csv",
                **settings,
            }
        )
    )


def _errors(proxy: FaultProxy, code: str) -> list[Injection]:
    return [i for i in proxy.injections if i.fault == "error" and i.detail == code]


def _retries(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER and r.levelno == logging.INFO and "retry" in r.getMessage()
    ]


def test_a_busy_cluster_is_waited_for(
    local_stack: Any, proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    proxy.add_rule(Rule.error(EXECUTE, "ActiveStatementsExceededException", BUSY, limit=2))
    with _source(local_stack.env, proxy.url, MAX_RETRIES="3") as source:
        assert list(source.rows("SELECT 41 + :n AS answer", {"n": 1})) == [(42,)]
    assert len(_errors(proxy, "ActiveStatementsExceededException")) == 2
    retries = _retries(caplog)
    assert len(retries) == 2, retries
    assert all("ActiveStatementsExceededException" in line for line in retries)
    assert "retry 1 of 3" in retries[0] and "retry 2 of 3" in retries[1]


def test_a_busy_cluster_delays_a_script_too(local_stack: Any, proxy: FaultProxy) -> None:
    proxy.add_rule(Rule.error(BATCH, "ActiveStatementsExceededException", BUSY, limit=1))
    with _source(local_stack.env, proxy.url) as source:
        source.execute_script(["CREATE TEMP TABLE capacity_t (n int)", "DROP TABLE capacity_t"])
    assert len(_errors(proxy, "ActiveStatementsExceededException")) == 1


@pytest.mark.parametrize(
    ("code", "advice"),
    [
        ("ActiveStatementsExceededException", "200 active statements"),
        ("ThrottlingException", "throttl"),
    ],
)
def test_capacity_errors_are_retried_max_retries_times_in_all_then_fail_in_one_line(
    local_stack: Any,
    proxy: FaultProxy,
    caplog: pytest.LogCaptureFixture,
    code: str,
    advice: str,
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    proxy.add_rule(Rule.error(EXECUTE, code, "busy"))
    source = _source(local_stack.env, proxy.url, MAX_RETRIES="3")
    with source, pytest.raises(ExtractError) as caught:
        list(source.rows("SELECT 1"))
    # One first attempt and MAX_RETRIES retries: botocore adds none of its own.
    assert len(_errors(proxy, code)) == 4
    assert len(_retries(caplog)) == 3
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith("statement (not submitted) ExecuteStatement failed after 3 retries: ")
    assert f"{code}: busy" in text and advice in text
    assert "MAX_RETRIES" in text and "re-run" in text


def test_statement_timeout_covers_a_submission_that_keeps_being_refused(
    local_stack: Any, proxy: FaultProxy
) -> None:
    proxy.add_rule(Rule.error(EXECUTE, "ActiveStatementsExceededException", BUSY))
    source = _source(local_stack.env, proxy.url, MAX_RETRIES="100", STATEMENT_TIMEOUT="1")
    with source, pytest.raises(ExtractError) as caught:
        list(source.rows("SELECT 1"))
    text = str(caught.value)
    assert "STATEMENT_TIMEOUT" in text and "not submitted" in text
    assert len(_errors(proxy, "ActiveStatementsExceededException")) < 101


def test_the_emulators_own_quota_is_waited_for(
    local_stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Two statements hold a quota of two; ours is refused until one of them ends."""
    caplog.set_level(logging.INFO, logger=LOGGER)
    env = local_stack.env
    retried = threading.Event()

    class _Seen(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "ActiveStatementsExceededException" in record.getMessage():
                retried.set()

    seen = _Seen(level=logging.INFO)
    logging.getLogger(LOGGER).addHandler(seen)
    outcome: list[Any] = []
    with DataApiServer(local_stack.conninfo, max_active_statements=2) as busy:
        client = boto3.client("redshift-data", endpoint_url=busy.endpoint_url)
        target = {"Database": env["DATABASE"], "ClusterIdentifier": env["CLUSTER"]}
        held = [
            client.execute_statement(Sql="SELECT pg_sleep(120)", DbUser=env["DBUSER"], **target)
            for _ in range(2)
        ]
        source = _source(env, busy.endpoint_url, MAX_RETRIES="100")

        def read() -> None:
            try:
                outcome.append(list(source.rows("SELECT 7 AS seven")))
            except Exception as exc:  # reported below
                outcome.append(exc)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert retried.wait(60), "the refused submission was never retried"
        finally:
            logging.getLogger(LOGGER).removeHandler(seen)
            for statement in held:
                client.cancel_statement(Id=statement["Id"])
        reader.join(120)
        source.close()
    assert outcome == [[(7,)]]

"""The parts of the lease and of ``contabyx-etl status`` that need no DynamoDB."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from dynamo import cli
from dynamo.errors import LeaseLost, RunInProgress, SyncError
from dynamo.runs import LEASE_TTL, RENEW_EVERY, Lease, error_line, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("26h", 93600.0),
        ("90m", 5400.0),
        ("2d", 172800.0),
        ("1s", 1.0),
        ("1.5h", 5400.0),
        (" 26H ", 93600.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["26", "h", "-1h", "0m", "1w", "1 day", "", "1h30m"])
def test_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration: a positive number and a unit"):
        parse_duration(text)


def test_a_bad_max_age_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["status", "--max-age", "soon"])
    assert exited.value.code == 2
    assert "'soon' is not a duration" in capsys.readouterr().err


def test_the_default_max_age_is_26_hours() -> None:
    args = cli._parser().parse_args(["status"])
    assert args.max_age == 26 * 3600 and args.last == 10 and not args.json


def test_three_renewals_fit_in_one_lease() -> None:
    assert RENEW_EVERY * 3 <= LEASE_TTL


def test_the_errors_are_sync_errors() -> None:
    assert issubclass(RunInProgress, SyncError) and issubclass(LeaseLost, SyncError)


class _Refusing:
    """A DynamoDB client whose conditional writes all fail their condition."""

    def put_item(self, **_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ConditionalCheckFailedException", "Message": "no"}}, "PutItem"
        )


def test_a_lease_past_its_expiry_is_lost() -> None:
    held = Lease(None, "t", "2026-01-01T00:00:00Z-aaaaaa")
    held.expires = time.time() + 60
    held.check()
    held.expires = time.time() - 1
    with pytest.raises(LeaseLost) as lost:
        held.check()
    text = str(lost.value)
    assert "\n" not in text and "lease expired at" in text and "re-run" in text


def test_a_renewal_that_finds_another_holder_loses_the_lease() -> None:
    held = Lease(_Refusing(), "t", "2026-01-01T00:00:00Z-aaaaaa")
    held.expires = time.time() + 600
    held.renew()
    with pytest.raises(LeaseLost, match="another run took the sync's lease"):
        held.check()


def test_error_lines() -> None:
    assert error_line(SyncError("a\n  b")) == "a b"
    assert error_line(KeyError("k")) == "KeyError: 'k'"
    assert error_line(KeyboardInterrupt()) == "interrupted"

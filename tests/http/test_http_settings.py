"""The HTTP API's settings and its pure helpers, without a stack."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from contabyx.errors import ConfigurationError
from contabyx.http_api import HttpSettings, cache_seconds, encode_amount

UTC = timezone.utc


def test_settings_from_the_environment() -> None:
    assert HttpSettings.from_env({}) == HttpSettings(max_age=3600, sync_at=time(0, 0))
    got = HttpSettings.from_env({"HTTP_CACHE_MAX_AGE": " 600 ", "SYNC_AT_UTC": "02:30"})
    assert got == HttpSettings(max_age=600, sync_at=time(2, 30))


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HTTP_CACHE_MAX_AGE": "-1"}, "HTTP_CACHE_MAX_AGE"),
        ({"HTTP_CACHE_MAX_AGE": "1h"}, "HTTP_CACHE_MAX_AGE"),
        ({"SYNC_AT_UTC": "25:00"}, "SYNC_AT_UTC"),
        ({"SYNC_AT_UTC": "midnight"}, "SYNC_AT_UTC"),
    ],
)
def test_a_malformed_setting_is_named(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        HttpSettings.from_env(env)


def test_max_age_runs_to_the_next_sync_and_never_past_the_cap() -> None:
    settings = HttpSettings(max_age=3600, sync_at=time(2, 0))
    assert cache_seconds(datetime(2026, 3, 1, 1, 59, 30, tzinfo=UTC), settings) == 30
    assert cache_seconds(datetime(2026, 3, 1, 2, 0, tzinfo=UTC), settings) == 3600
    assert cache_seconds(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), settings) == 3600
    # The same instant in another offset: the same answer.
    plus_two = timezone(timedelta(hours=2))
    assert cache_seconds(datetime(2026, 3, 1, 3, 59, 30, tzinfo=plus_two), settings) == 30
    no_cap = HttpSettings(max_age=86400, sync_at=time(0, 0))
    assert cache_seconds(datetime(2026, 3, 1, 23, 0, tzinfo=UTC), no_cap) == 3600
    assert cache_seconds(datetime(2026, 3, 1, 0, 0, 1, tzinfo=UTC), no_cap) == 86399
    assert cache_seconds(datetime(2026, 3, 1, 12, 0, tzinfo=UTC), HttpSettings(max_age=0)) == 0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0"), "0.00"),
        (Decimal("-0.00"), "0.00"),
        (Decimal("12.3"), "12.30"),
        (Decimal("-40.05"), "-40.05"),
        (Decimal("70368744177664.01"), "70368744177664.01"),
        (
            Decimal("99999999999999999999999999999999999.99"),
            "99999999999999999999999999999999999.99",
        ),
        (Decimal("1E+3"), "1000.00"),
        (Decimal("0.125"), "0.125"),
    ],
)
def test_amounts_are_exact_decimal_strings(value: Decimal, text: str) -> None:
    assert encode_amount(value) == text
    assert Decimal(text) == value

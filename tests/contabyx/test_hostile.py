"""Issue 10, read side, on the local stack: a known client whose by-year item is
missing or of an older layout, totals and years from one run, exact amounts, a
silent endpoint, and the region variables.

Items are written straight into DynamoDB Local in the layout of contabyx.layout
(tests.support.by_year_layout), so these tests do not depend on the sync.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from contabyx import (
    ClientNotFound,
    ConfigurationError,
    ConnectionFailed,
    IncompleteClient,
    InconsistentClient,
    OutdatedItem,
    contabyxAPI,
)
from contabyx._convert import FLOAT_EXACT_LIMIT
from tests.support.by_year_layout import put_client
from tests.support.silent import SilentServer
from tests.support.synced import ROOT, fresh_tables

TABLES = ("hostile_clients_info", "hostile_clients_info_by_year")
WHOLE, HALF, OLD, BIG, OTHER_RUN = 1, 2, 3, 4, 5
UNKNOWN = 999

MONTHS: dict[int, dict[int, dict[str, Any]]] = {
    2023: {
        1: {"income": Decimal("100.10"), "income_count": 1, "balance": Decimal("100.10")},
        7: {"expense": Decimal("40.05"), "expense_count": 2, "balance": Decimal("-40.05")},
    },
    2024: {3: {"income": Decimal("12.34"), "income_count": 1, "balance": Decimal("12.34")}},
}
#: What a command needs to reach an endpoint without the local stack's variables.
OFFLINE = {
    "AWS_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
}
#: Past FLOAT_EXACT_LIMIT: a float cannot hold these cents.
HUGE = Decimal("70368744177664.01")


@pytest.fixture(scope="module")
def tables(local_stack: Any) -> tuple[str, str]:
    fresh_tables(*TABLES)
    put_client(TABLES, WHOLE, MONTHS)
    put_client(TABLES, HALF, MONTHS, by_year=False)
    put_client(TABLES, OLD, MONTHS, current_layout=False)
    put_client(TABLES, BIG, {2024: {1: {"income": HUGE, "income_count": 1, "balance": HUGE}}})
    # clients_info from a later run than the by-year item: client() must not mix them.
    later = {"balance": Decimal("1.00"), "income": Decimal("1.00"), "income_count": 1}
    put_client(TABLES, OTHER_RUN, MONTHS, info_figures=later)
    return TABLES


@pytest.fixture(scope="module")
def api(tables: tuple[str, str]) -> Iterator[contabyxAPI]:
    info, by_year = tables
    with contabyxAPI(clients_info_table=info, clients_info_by_year_table=by_year) as instance:
        yield instance


@pytest.fixture(scope="module")
def exact(tables: tuple[str, str]) -> Iterator[contabyxAPI]:
    info, by_year = tables
    with contabyxAPI(
        clients_info_table=info, clients_info_by_year_table=by_year, exact=True
    ) as instance:
        yield instance


# --- the by-year item of a known client is missing -----------------------------------


@pytest.mark.parametrize("return_type", ["by_year", "by_month"])
def test_a_missing_by_year_item_is_an_error_not_an_empty_history(
    api: contabyxAPI, return_type: str
) -> None:
    with pytest.raises(IncompleteClient) as info:
        api.client(HALF, return_type)
    message = str(info.value)
    assert "did not complete" in message and "re-run the sync" in message
    assert str(HALF) in message and TABLES[1] in message
    assert info.value.clientids == (HALF,)
    assert "\n" not in message


def test_a_year_of_a_client_balance_finds_is_never_client_not_found(api: contabyxAPI) -> None:
    assert api.balance(HALF) == 72.39  # the client is known...
    for call in (lambda: api.income(HALF, 2024), lambda: api.expense(HALF, 2023, 7)):
        with pytest.raises(IncompleteClient, match="did not complete"):
            call()  # ...so a year of it is incomplete, never "not found"
    assert api.client(HALF)["balance"] == 72.39  # "total" reads clients_info


def test_clients_names_the_incomplete_ones(api: contabyxAPI) -> None:
    with pytest.raises(IncompleteClient) as info:
        api.clients([WHOLE, HALF, UNKNOWN], "by_year")
    assert info.value.clientids == (HALF,)
    assert set(api.clients([WHOLE, HALF, UNKNOWN])) == {WHOLE, HALF}
    assert set(api.clients([WHOLE, UNKNOWN], "by_month")) == {WHOLE}


def test_an_unknown_client_is_still_not_found(api: contabyxAPI) -> None:
    for call in (
        lambda: api.client(UNKNOWN, "by_year"),
        lambda: api.income(UNKNOWN, 2024),
        lambda: api.expense(UNKNOWN, 2024, 3),
    ):
        with pytest.raises(ClientNotFound):
            call()


def test_a_known_client_with_nothing_that_year_is_zero(api: contabyxAPI) -> None:
    assert api.income(WHOLE, 2019) == 0.0
    assert api.expense(WHOLE, 2024, 12) == 0.0


# --- layouts and runs ---------------------------------------------------------------


def test_an_item_of_the_older_layout_says_to_re_run_the_sync(api: contabyxAPI) -> None:
    for call in (
        lambda: api.client(OLD, "by_year"),
        lambda: api.income(OLD, 2024),
        lambda: api.clients([WHOLE, OLD], "by_month"),
    ):
        with pytest.raises(OutdatedItem) as info:
            call()
        assert isinstance(info.value, InconsistentClient)
        assert "older sync" in str(info.value) and "re-run the sync" in str(info.value)
        assert info.value.clientids == (OLD,)


def test_totals_and_years_come_from_one_item(api: contabyxAPI) -> None:
    detail = api.client(OTHER_RUN, "by_year")
    assert detail["income"] == 112.44 and detail["balance"] == 72.39
    assert detail["income"] == round(sum(y["income"] for y in detail["years"].values()), 2)
    assert api.client(OTHER_RUN)["income"] == 1.0  # clients_info, the later run


def test_whole_client(api: contabyxAPI) -> None:
    got = api.client(WHOLE, "by_month")
    assert (got["income"], got["expense"], got["income_count"], got["expense_count"]) == (
        112.44,
        40.05,
        2,
        2,
    )
    assert got["years"][2023]["months"][7]["expense"] == 40.05
    assert api.income(WHOLE, 2024) == 12.34


# --- exact amounts ------------------------------------------------------------------


def test_exact_gives_decimal_for_every_figure(exact: contabyxAPI) -> None:
    assert exact.balance(WHOLE) == Decimal("72.39")
    assert exact.income(WHOLE) == Decimal("112.44")
    assert exact.income(WHOLE, 2024) == Decimal("12.34")
    assert exact.expense(WHOLE, 2023, 7) == Decimal("40.05")
    assert exact.income(WHOLE, 2019) == Decimal("0.00")
    shapes = [exact.client(WHOLE, t) for t in ("total", "by_year", "by_month")]
    shapes += list(exact.clients([WHOLE], "by_month").values())
    for shape in shapes:
        levels = [shape]
        for year in shape.get("years", {}).values():
            levels.append(year)
            levels.extend(year.get("months", {}).values())
        for level in levels:
            for name in ("balance", "income", "expense"):
                assert type(level[name]) is Decimal
            for name in ("income_count", "expense_count"):
                assert type(level[name]) is int


def test_past_the_float_limit_only_exact_keeps_the_cents(
    api: contabyxAPI, exact: contabyxAPI
) -> None:
    assert HUGE > FLOAT_EXACT_LIMIT
    assert exact.income(BIG) == HUGE
    assert exact.client(BIG, "by_month")["years"][2024]["months"][1]["income"] == HUGE
    assert Decimal(repr(api.income(BIG))).quantize(Decimal("0.01")) != HUGE


def test_the_cli_prints_exact_amounts(tables: tuple[str, str]) -> None:
    info, by_year = tables
    done = contabyx(
        "--clients-info-table", info, "--clients-info-by-year-table", by_year,
        "--exact", "client", str(BIG), "--by", "month",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"income": 70368744177664.01' in done.stdout
    assert '"income_count": 1' in done.stdout


# --- a silent endpoint --------------------------------------------------------------


@pytest.fixture
def silent() -> Iterator[str]:
    """An endpoint that accepts connections and never answers."""
    with SilentServer() as server:
        yield server.url


def test_a_silent_endpoint_fails_with_one_line_after_logged_retries(
    silent: str, caplog: pytest.LogCaptureFixture
) -> None:
    api = contabyxAPI(
        "local",
        "local",
        region_name="us-east-1",
        endpoint_url=silent,
        read_timeout=0.2,
        connect_timeout=0.2,
    )
    retrying = caplog.at_level(logging.INFO, logger="contabyx")
    with api, retrying, pytest.raises(ConnectionFailed) as info:
        api.balance(1)
    message = str(info.value)
    assert "\n" not in message
    assert "3 attempts" in message and "AWS_READ_TIMEOUT" in message and silent in message
    retries = [r for r in caplog.records if r.levelno == logging.INFO]
    assert [r.getMessage().split(" after ")[0] for r in retries] == [
        "DynamoDB GetItem: attempt 2 of 3",
        "DynamoDB GetItem: attempt 3 of 3",
    ]
    assert "ReadTimeoutError" in retries[0].getMessage()


def test_the_cli_on_a_silent_endpoint_says_one_line(silent: str) -> None:
    done = contabyx(
        "balance", "1", AWS_ENDPOINT_URL_DYNAMODB=silent, **OFFLINE, AWS_READ_TIMEOUT="0.2",
        AWS_CONNECT_TIMEOUT="0.2",
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("contabyx: GetItem") and "unreachable or too slow" in lines[0]


@pytest.mark.parametrize("value", ["soon", "0", "-1", "nan", "inf"])
def test_a_bad_timeout_variable_is_named(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("AWS_READ_TIMEOUT", value)
    with pytest.raises(ConfigurationError, match="AWS_READ_TIMEOUT"):
        contabyxAPI(region_name="us-east-1")


@pytest.mark.integration
def test_timeouts_from_keywords_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONNECT_TIMEOUT", "7")
    monkeypatch.setenv("AWS_READ_TIMEOUT", "9.5")
    config = contabyxAPI(region_name="us-east-1").dynamodb_client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (7.0, 9.5)
    config = contabyxAPI(
        region_name="us-east-1", connect_timeout=1, read_timeout=3
    ).dynamodb_client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.0, 3.0)
    assert config.retries["total_max_attempts"] == 3


# --- the region ---------------------------------------------------------------------


@pytest.mark.integration
def test_aws_region_alone_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    assert contabyxAPI().region_name == "eu-west-3"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert contabyxAPI().region_name == "eu-west-3"  # AWS_REGION comes first
    monkeypatch.delenv("AWS_REGION")
    assert contabyxAPI().region_name == "ap-south-1"


def test_the_cli_with_aws_region_alone(tables: tuple[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    env.update(AWS_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull)
    done = subprocess.run(
        [sys.executable, "-m", "contabyx.cli", "--clients-info-table", tables[0],
         "balance", str(WHOLE)],
        env=env, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "72.39"


def contabyx(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``contabyx *args`` with this interpreter and ``env`` added."""
    return subprocess.run(
        [sys.executable, "-m", "contabyx.cli", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_cli_on_an_incomplete_client_says_to_re_run(tables: tuple[str, str]) -> None:
    info, by_year = tables
    done = contabyx(
        "--clients-info-table", info, "--clients-info-by-year-table", by_year,
        "income", str(HALF), "--year", "2024",
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "did not complete" in lines[0] and "re-run" in lines[0]


def test_the_cli_shows_each_retry_when_verbose(silent: str) -> None:
    done = contabyx(
        "--verbose", "balance", "1",
        AWS_ENDPOINT_URL_DYNAMODB=silent, AWS_READ_TIMEOUT="0.2", **OFFLINE,
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 3, done.stderr
    assert [line.split(" after ")[0] for line in lines[:-1]] == [
        "contabyx: DynamoDB GetItem: attempt 2 of 3",
        "contabyx: DynamoDB GetItem: attempt 3 of 3",
    ]
    assert "unreachable or too slow" in lines[-1]

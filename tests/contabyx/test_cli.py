"""The ``contabyx`` command on the local stack: JSON on stdout, exit statuses, stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from contabyx.cli import main
from tests.support.expected import ClientFigures, cents, expected_client, level
from tests.support.synced import seed_and_sync

INFO = "cli_clients_info"
BY_YEAR = "cli_clients_info_by_year"
TABLES = ["--clients-info-table", INFO, "--clients-info-by-year-table", BY_YEAR]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def expected(local_stack: Any, warehouse: Any) -> dict[int, ClientFigures]:
    figures = seed_and_sync(
        local_stack, warehouse, clients=30, seed=9, years=(2019, 2021), tables=(INFO, BY_YEAR)
    )
    return figures


@pytest.fixture(scope="module")
def some(expected: dict[int, ClientFigures]) -> tuple[int, ClientFigures, int]:
    """A client with a year 2020, that client, and a month of 2020 it has."""
    clientid, c = next((k, v) for k, v in sorted(expected.items()) if 2020 in v.years)
    month = min(m for (y, m) in c.months if y == 2020)
    return clientid, c, month


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_balance_income_expense(
    some: tuple[int, ClientFigures, int], capsys: pytest.CaptureFixture[str]
) -> None:
    clientid, c, month = some
    cases = [
        (["balance", str(clientid)], c.total.balance),
        (["income", str(clientid)], c.total.income),
        (["expense", str(clientid)], c.total.expense),
        (["income", str(clientid), "--year", "2020"], c.years[2020].income),
        (["expense", str(clientid), "--year", "2020"], c.years[2020].expense),
        (
            ["income", str(clientid), "--year", "2020", "--month", str(month)],
            c.months[(2020, month)].income,
        ),
        (["expense", str(clientid), "--year", "1999", "--month", "1"], Decimal(0)),
    ]
    for argv, want in cases:
        status, out, err = run([*TABLES, *argv], capsys)
        assert (status, err) == (0, ""), argv
        assert json.loads(out) == cents(want), argv


def test_client_by_total_year_month(
    some: tuple[int, ClientFigures, int], capsys: pytest.CaptureFixture[str]
) -> None:
    clientid, c, _ = some
    status, out, _ = run([*TABLES, "client", str(clientid)], capsys)
    assert status == 0
    assert json.loads(out) == expected_client(clientid, c, "total")

    status, out, _ = run([*TABLES, "client", str(clientid), "--by", "year"], capsys)
    assert status == 0
    got = json.loads(out)
    assert got["years"] == {str(y): level(f) for y, f in c.years.items()}

    status, out, _ = run([*TABLES, "client", str(clientid), "--by", "month"], capsys)
    assert status == 0
    got = json.loads(out)
    for (year, month), f in c.months.items():
        assert got["years"][str(year)]["months"][str(month)] == level(f)
    assert sum(len(y["months"]) for y in got["years"].values()) == len(c.months)


def test_unknown_client_exits_2_with_one_line(
    expected: dict[int, ClientFigures], capsys: pytest.CaptureFixture[str]
) -> None:
    missing = next(i for i in range(1, 10**6) if i not in expected)
    for argv in (["balance", str(missing)], ["client", str(missing), "--by", "month"]):
        status, out, err = run([*TABLES, *argv], capsys)
        assert status == 2
        assert out == ""
        assert err.count("\n") == 1 and str(missing) in err and "not found" in err


def test_other_failures_exit_1_with_one_line(
    expected: dict[int, ClientFigures], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = run(["--clients-info-table", "cli_no_such_table", "balance", "1"], capsys)
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1 and "cli_no_such_table" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["balance"],
        ["balance", "x"],
        ["balance", "-1"],
        ["balance", "1", "2"],
        ["income", "1", "--month", "3"],
        ["income", "1", "--year", "2020", "--month", "13"],
        ["expense", "1", "--year", "0"],
        ["client", "1", "--by", "week"],
        ["frobnicate", "1"],
        ["--clients-info-table", "no", "balance", "1"],
    ],
)
def test_bad_arguments_are_usage_errors(
    local_stack: Any, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "usage:" in err


def test_the_console_script(
    expected: dict[int, ClientFigures], some: tuple[int, ClientFigures, int]
) -> None:
    clientid, c, _ = some
    missing = next(i for i in range(1, 10**6) if i not in expected)
    script = Path(sys.executable).with_name("contabyx")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "contabyx.cli"]
    env = dict(os.environ)

    def call(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *argv], capture_output=True, text=True, env=env, cwd=REPO, timeout=60
        )

    ok = call(*TABLES, "balance", str(clientid))
    assert (ok.returncode, ok.stderr) == (0, "")
    assert json.loads(ok.stdout) == cents(c.total.balance)
    assert call(*TABLES, "balance", str(missing)).returncode == 2
    assert call("--clients-info-table", "cli_no_such_table", "balance", "1").returncode == 1
    assert call("income", "1", "--month", "2").returncode == 2
    module = subprocess.run(
        [sys.executable, "-m", "contabyx.cli", *TABLES, "client", str(clientid)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert module.returncode == 0
    assert json.loads(module.stdout)["clientid"] == clientid

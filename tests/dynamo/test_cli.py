"""``contabyx-etl`` and ``scripts/insert.sh`` as an operator runs them, on the local stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack.seed import seed
from tests.support import synced

TABLES = ("cli_ci", "cli_ciby")


def etl(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return synced.etl(TABLES, *args, timeout=300, **(env or {}))


@pytest.fixture(scope="module")
def seeded(local_stack: Any, warehouse: Any) -> int:
    seed(local_stack.conninfo, clients=120, seed=5, years=(2020, 2024))
    etl("create-views")
    with warehouse.cursor() as cur:
        cur.execute("SELECT count(*) FROM contabyx.clients_info")
        row = cur.fetchone()
    return int(row[0])


def test_create_tables_views_and_run_load_every_client(seeded: int) -> None:
    for args in (["create-tables"], ["create-tables"], ["create-views"]):
        done = etl(*args)
        assert done.returncode == 0, done.stderr
    done = etl("run", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["tables"]["cli_ci"]["items"] == seeded
    assert summary["tables"]["cli_ciby"]["items"] == seeded
    assert summary["retries"] == 0
    assert boto3.client("dynamodb").describe_table(TableName="cli_ci")["Table"]["ItemCount"] >= 0
    done = etl("run", "--table", "clients_info", "--entries", "3")
    assert done.returncode == 0, done.stderr
    # Three small items: one write unit each.
    assert done.stdout.startswith("synced cli_ci: 3 items, 3 WCU in ")


def test_info_logging_names_the_clientids_of_each_batch(seeded: int) -> None:
    done = etl("--log-level", "INFO", "run", "--table", "clients_info", "--entries", "4")
    assert done.returncode == 0, done.stderr
    assert "wrote 4 items to cli_ci: clientids [" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--entries", "-1"],
        ["run", "--table", "nope"],
        ["run", "--workers", "0"],
        ["run", "--max-write-units", "-5"],
        ["fly"],
    ],
)
@pytest.mark.integration
def test_bad_arguments_are_usage_errors(args: list[str]) -> None:
    done = etl(*args)
    assert done.returncode == 2
    assert "usage:" in done.stderr


def test_a_failure_is_one_line_without_traceback(seeded: int) -> None:
    done = etl("run", env={"VIEWS_SCHEMA": "no_such_schema"})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("contabyx-etl: error: ")
    assert "no_such_schema" in lines[0]
    assert "Traceback" not in done.stderr
    done = etl("run", env={"WORKERS": "lots"})
    assert done.returncode == 1 and "WORKERS" in done.stderr


def test_insert_sh_runs_from_anywhere_and_logs(seeded: int, tmp_path: Path) -> None:
    log = tmp_path / "insert.log"
    env = synced.etl_env(
        TABLES,
        CONTABYX_LOG=str(log),
        CONTABYX_LOCK=str(tmp_path / "lock"),
        CONTABYX_ETL=str(Path(sys.executable).parent / "contabyx-etl"),
    )
    done = subprocess.run(
        ["bash", str(synced.ROOT / "scripts" / "insert.sh"), "--entries", "5"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, log.read_text()
    text = log.read_text()
    assert "sync finished with status 0" in text
    assert "wrote 5 items to cli_ci" in text
    assert all(line[:4].isdigit() and "T" in line[:20] for line in text.splitlines())


def test_the_summary_line_names_rejected_rows_and_clients() -> None:
    from dynamo.cli import _summary_line

    def table(items: int, rejected: list[tuple[int, str]], units: int = 0) -> dict[str, Any]:
        rejects = [{"clientid": c, "reason": r} for c, r in rejected]
        return {"items": items, "write_units": units, "rejected": rejects}

    summary = {
        "tables": {
            "ci": table(10, [], units=10),
            "ciby": table(
                9, [(7, "client 7: its item is 512.0 KB, over DynamoDB's 400 KB limit")], units=41
            ),
        },
        # Every non-zero reason, whatever its name: the view owns the list.
        "rejected_rows": {"unknown_type": 3, "null_time": 0, "some_new_reason": 2},
        "seconds": 1.25,
        "retries": 4,
    }
    assert _summary_line(summary) == (
        "synced ci: 10 items, 10 WCU, ciby: 9 items, 41 WCU, 1 rejected in 1.2 s, 4 retries; "
        "rejected source rows: unknown_type 3, some_new_reason 2; "
        "rejected clients: 7 (ciby: its item is 512.0 KB, over DynamoDB's 400 KB limit)"
    )
    many = table(0, [(n, "bad") for n in range(12)])
    line = _summary_line({"tables": {"ci": many}, "seconds": 0, "retries": 0})
    assert line.endswith("9 (ci: bad) and 2 more (see --json)")


@pytest.mark.integration
def test_allow_mass_delete_only_confirms_prune() -> None:
    done = etl("run", "--allow-mass-delete")
    assert done.returncode == 2 and "--prune" in done.stderr

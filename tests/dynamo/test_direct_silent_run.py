"""``contabyx-etl run`` with SOURCE=direct and a warehouse host that accepts
connections and never answers: the run ends, non-zero, with one line naming the
setting and what to check (issue "hostile days", nothing waits forever)."""

from __future__ import annotations

from typing import Any

from tests.support import synced
from tests.support.silent import silent_endpoint

TABLES = ("silent_direct_ci", "silent_direct_ciby")


def test_a_silent_warehouse_fails_the_run_with_one_line(local_stack: Any) -> None:
    created = synced.etl(TABLES, "create-tables", timeout=300)
    assert created.returncode == 0, created.stderr
    with silent_endpoint() as port:
        done = synced.etl(
            TABLES,
            "run",
            timeout=300,
            SOURCE="direct",
            REDSHIFT_HOST="127.0.0.1",
            REDSHIFT_PORT=str(port),
            REDSHIFT_PASSWORD="local-password",
            AWS_CONNECT_TIMEOUT="1",
        )
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"127.0.0.1:{port}" in lines[0]
    assert "no answer within 1 s (AWS_CONNECT_TIMEOUT)" in lines[0]
    assert "check REDSHIFT_HOST and REDSHIFT_PORT" in lines[0]
    assert "local-password" not in done.stderr + done.stdout

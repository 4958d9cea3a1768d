"""Overlapping runs: while one ``scripts/insert.sh`` runs, a second exits non-zero at
once, saying why, and the first completes its sync."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.support.synced import ROOT, differences, etl_env, fresh_tables, seeded

TABLES = ("overlap_ci", "overlap_ciby")


def test_a_second_insert_sh_refuses_while_the_first_completes(
    local_stack: Any, warehouse: Any, tmp_path: Path
) -> None:
    expected = seeded(local_stack, warehouse, clients=300, seed=47, years=(2016, 2026))
    fresh_tables(*TABLES)
    real_etl = Path(sys.executable).parent / "contabyx-etl"
    # The first run's job waits for a signal from the test before it syncs, so the
    # second run is certain to start while the first holds the lock.
    job = tmp_path / "job.sh"
    job.write_text(
        f"#!/bin/sh\ntouch {tmp_path}/holding\n"
        f"while [ ! -e {tmp_path}/release ]; do sleep 0.05; done\n"
        f'exec {real_etl} "$@"\n'
    )
    job.chmod(0o755)
    env = etl_env(
        TABLES,
        CONTABYX_LOG=str(tmp_path / "insert.log"),
        CONTABYX_LOCK=str(tmp_path / "lock"),
        CONTABYX_ETL=str(job),
    )
    script = str(ROOT / "scripts" / "insert.sh")
    first = subprocess.Popen(["bash", script], env=env, cwd=tmp_path)
    while not (tmp_path / "holding").exists():
        assert first.poll() is None, "the first run ended before taking the lock"
        time.sleep(0.05)

    second = subprocess.run(
        ["bash", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert first.poll() is None, "the second run waited for the first"
    assert second.returncode != 0
    assert "another sync holds" in second.stderr

    (tmp_path / "release").touch()
    assert first.wait(timeout=300) == 0
    log = (tmp_path / "insert.log").read_text()
    assert "sync finished with status 0" in log
    assert differences(TABLES, expected) == []

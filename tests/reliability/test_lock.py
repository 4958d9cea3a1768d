"""The cron lock of ``scripts/insert.sh``: never truncated, never followed through a
symbolic link, kept in a directory the sync owns; an unusable lock path is its own
error (exit 78), not "another sync holds" (exit 75).

Each test runs a copy of the script in a scratch checkout, with a stand-in job in
place of ``contabyx-etl`` (the lock is the script's, not the sync's).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

# Runs the cron wrapper as a process: not in make unit.
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
LOCK_UNUSABLE = 78
ANOTHER_HOLDS = 75


def _checkout(tmp_path: Path, job_body: str = "") -> tuple[Path, dict[str, str]]:
    """A scratch checkout holding insert.sh, and an environment running a stand-in job."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "scripts" / "insert.sh", repo / "scripts" / "insert.sh")
    job = tmp_path / "job.sh"
    job.write_text(f'#!/bin/sh\n{job_body}\necho "job ran: $*"\n')
    job.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTABYX_")}
    env.update(CONTABYX_ETL=str(job), CONTABYX_LOG=str(tmp_path / "insert.log"))
    return repo, env


def _run(repo: Path, env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(repo / "scripts" / "insert.sh"), "--entries", "1"],
        env={**env, **extra},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _job_ran(tmp_path: Path) -> bool:
    log = tmp_path / "insert.log"
    return log.exists() and "job ran: run --entries 1" in log.read_text()


def test_the_default_lock_is_in_a_private_directory_of_the_checkout(tmp_path: Path) -> None:
    repo, env = _checkout(tmp_path)
    done = _run(repo, env)
    assert done.returncode == 0, done.stderr
    assert _job_ran(tmp_path)
    run_dir = repo / "run"
    assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700
    assert (run_dir / "insert.lock").is_file()


def test_a_lock_that_is_a_symlink_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    repo, env = _checkout(tmp_path)
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    link = tmp_path / "lock"
    link.symlink_to(target)
    done = _run(repo, env, CONTABYX_LOCK=str(link))
    assert done.returncode == LOCK_UNUSABLE, done.stderr
    assert "cannot use the lock" in done.stderr and "symbolic link" in done.stderr
    assert "another sync holds" not in done.stderr
    assert target.read_text() == "keep me\n"
    assert not _job_ran(tmp_path)


def test_a_dangling_symlink_creates_nothing(tmp_path: Path) -> None:
    repo, env = _checkout(tmp_path)
    target = tmp_path / "created-by-the-lock"
    link = tmp_path / "lock"
    link.symlink_to(target)
    done = _run(repo, env, CONTABYX_LOCK=str(link))
    assert done.returncode == LOCK_UNUSABLE, done.stderr
    assert not target.exists()


def test_a_lock_that_is_a_directory_is_its_own_error(tmp_path: Path) -> None:
    repo, env = _checkout(tmp_path)
    (tmp_path / "lockdir").mkdir()
    done = _run(repo, env, CONTABYX_LOCK=str(tmp_path / "lockdir"))
    assert done.returncode == LOCK_UNUSABLE, done.stderr
    assert "is a directory" in done.stderr
    assert "another sync holds" not in done.stderr
    assert not _job_ran(tmp_path)


def test_a_lock_file_of_another_user_is_its_own_error(tmp_path: Path) -> None:
    repo, env = _checkout(tmp_path)
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign.lock"
        foreign.write_text("")
        os.chown(foreign, 65534, 65534)
    else:
        foreign = Path("/etc/passwd")  # root's; opened read-only at most
    before = foreign.read_bytes()
    done = _run(repo, env, CONTABYX_LOCK=str(foreign))
    assert done.returncode == LOCK_UNUSABLE, done.stderr
    assert "belongs to another user" in done.stderr
    assert foreign.read_bytes() == before


def test_an_existing_lock_file_is_used_and_not_truncated(tmp_path: Path) -> None:
    repo, env = _checkout(tmp_path)
    lock = tmp_path / "mine.lock"
    lock.write_text("notes\n")
    done = _run(repo, env, CONTABYX_LOCK=str(lock))
    assert done.returncode == 0, done.stderr
    assert lock.read_text() == "notes\n"


def test_a_concurrent_run_still_exits_75(tmp_path: Path) -> None:
    holding, release = tmp_path / "holding", tmp_path / "release"
    repo, env = _checkout(
        tmp_path, f"touch {holding}\nwhile [ ! -e {release} ]; do sleep 0.05; done"
    )
    first = subprocess.Popen(["bash", str(repo / "scripts" / "insert.sh")], env=env, cwd="/")
    try:
        while not holding.exists():
            assert first.poll() is None, "the first run ended before taking the lock"
            time.sleep(0.05)
        second = _run(repo, env)
        assert second.returncode == ANOTHER_HOLDS, second.stderr
        assert "another sync holds" in second.stderr
    finally:
        release.touch()
        assert first.wait(timeout=60) == 0


@pytest.mark.parametrize("in_file", [True, False])
def test_log_level_of_the_env_file_is_not_overridden(tmp_path: Path, in_file: bool) -> None:
    repo, env = _checkout(tmp_path, 'echo "level=$LOG_LEVEL"')
    env_file = tmp_path / "x.env"
    env_file.write_text("LOG_LEVEL=DEBUG\n" if in_file else "")
    env.pop("LOG_LEVEL", None)
    done = _run(repo, env, CONTABYX_ENV_FILE=str(env_file))
    assert done.returncode == 0, done.stderr
    log = (tmp_path / "insert.log").read_text()
    # With LOG_LEVEL in the file, the job inherits none and the sync reads the file's.
    assert ("level=INFO" in log) is not in_file
    assert " level=" in log


# --- which run cron starts ------------------------------------------------------------


def _today() -> int:
    return int(time.strftime("%u", time.gmtime()))


@pytest.mark.parametrize(
    ("full_day", "args", "expected"),
    [
        ("today", [], "job ran: run --full"),
        ("another day", [], "job ran: run --incremental"),
        ("another day", ["--full"], "job ran: run --full"),
        ("today", ["--entries", "5"], "job ran: run --entries 5"),
        ("another day", ["--prune"], "job ran: run --prune"),
    ],
)
def test_cron_runs_incremental_and_a_full_run_on_its_day(
    tmp_path: Path, full_day: str, args: list[str], expected: str
) -> None:
    repo, env = _checkout(tmp_path)
    day = _today() if full_day == "today" else _today() % 7 + 1
    done = subprocess.run(
        ["bash", str(repo / "scripts" / "insert.sh"), *args],
        env={**env, "CONTABYX_FULL_DAY": str(day)},
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert expected in (tmp_path / "insert.log").read_text()


def test_a_bad_full_day_is_a_configuration_error(tmp_path: Path) -> None:
    repo, env = _checkout(tmp_path)
    done = _run(repo, env, CONTABYX_FULL_DAY="sunday")
    assert done.returncode == LOCK_UNUSABLE
    assert "CONTABYX_FULL_DAY must be a day 1-7" in done.stderr

"""Every example of the README's "Using it" section runs, and prints what it says.

The section's examples are written against the data of ``make demo`` (1,000
clients, seed 42), so this test seeds the same and syncs it first.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.synced import seed_and_sync

ROOT = Path(__file__).resolve().parents[1]
OUR_COMMANDS = ("contabyx ", "contabyx-etl ", "contabyx-local ")


def using_it_blocks() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Using it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)


def expected_output(comment: str) -> str:
    """What a ``print(...)  # comment`` promises: the value before any explanation."""
    if comment.startswith("{"):
        return comment.split("...", 1)[0]
    return re.split(r",\s|:\s", comment, maxsplit=1)[0]


@pytest.fixture(scope="module")
def demo_data(local_stack: Any, warehouse: Any) -> None:
    seed_and_sync(local_stack, warehouse, clients=1000, seed=42)


def test_the_examples_exist() -> None:
    kinds = [kind for kind, _ in using_it_blocks()]
    assert kinds.count("python") >= 2 and kinds.count("bash") >= 3


def test_python_examples_run_and_print_what_they_say(demo_data: None) -> None:
    checked = 0
    for kind, code in using_it_blocks():
        if kind != "python":
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
        printed = iter(out.getvalue().splitlines())
        for line in code.splitlines():
            # The last branch of the README's try/except is the one that must not run.
            if not line.lstrip().startswith("print(") or "lookup failed" in line:
                continue
            got = next(printed)
            if "  # " in line and not line.lstrip().startswith("print(result"):
                want = expected_output(line.split("  # ", 1)[1])
                assert got.startswith(want), f"{line.strip()} printed {got!r}"
                checked += 1
    assert checked >= 10


def test_command_examples_run(demo_data: None, local_stack: Any) -> None:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        # `contabyx-local status` speaks of the stack these tests run on.
        "CONTABYX_LOCAL_DIR": str(local_stack.stack.state_dir),
    }
    ran = 0
    for kind, code in using_it_blocks():
        if kind != "bash":
            continue
        for line in code.splitlines():
            command = line.split("  #", 1)[0].strip()
            if not command.startswith(OUR_COMMANDS):
                continue
            done = subprocess.run(
                shlex.split(command), env=env, cwd=ROOT, capture_output=True, text=True, check=False
            )
            assert done.returncode == 0, f"{command}: {done.stderr}"
            ran += 1
    assert ran >= 10

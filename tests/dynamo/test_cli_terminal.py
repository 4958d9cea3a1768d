"""contabyx-etl on a terminal: a whole sync draws tqdm's progress bar up to the total.

The bar is drawn only when stderr is a terminal, so the command runs on a
pseudo-terminal here. ``make min-versions`` runs this test too: it is what meets the
oldest allowed tqdm, and a full sync from the command line.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import termios
import threading
from typing import Any

import pytest

from tests.support.expected import ClientFigures
from tests.support.synced import ROOT, differences, etl_command, etl_env, fresh_tables, seeded

CLIENTS = 40
TABLES = ("terminal_ci", "terminal_ciby")


@pytest.fixture(scope="module")
def expected(local_stack: Any, warehouse: Any) -> dict[int, ClientFigures]:
    figures = seeded(local_stack, warehouse, clients=CLIENTS, seed=23, years=(2020, 2023))
    fresh_tables(*TABLES)
    return figures


def _drain(fd: int, sink: list[bytes]) -> None:
    """Read a pty's master side until the child closes its end (EIO on Linux)."""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return
        if not chunk:
            return
        sink.append(chunk)


def run_on_terminal(*args: str) -> tuple[int, str, str]:
    """Run ``contabyx-etl *args`` with stderr on a 120-column pseudo-terminal:
    (exit code, stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    shown: list[bytes] = []
    reader = threading.Thread(target=_drain, args=(master, shown), daemon=True)
    try:
        process = subprocess.Popen(
            etl_command(*args),
            env=etl_env(TABLES),
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=slave,
        )
        os.close(slave)
        slave = -1
        reader.start()
        out, _ = process.communicate(timeout=300)
        reader.join(timeout=30)
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)
    return process.returncode, out.decode(), b"".join(shown).decode(errors="replace")


def test_a_sync_on_a_terminal_draws_the_bar_to_the_total(
    expected: dict[int, ClientFigures],
) -> None:
    code, out, terminal = run_on_terminal("run")
    assert code == 0, terminal
    for table in ("clients_info", "clients_info_by_year"):
        assert f"{table}: 100%" in terminal, terminal
    assert f"{CLIENTS}/{CLIENTS}" in terminal, terminal
    assert out.strip(), "the summary line goes to stdout, not to the terminal"
    assert differences(TABLES, expected) == []

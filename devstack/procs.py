"""Background processes of the local stack: start detached, probe, stop by pid.

Only processes whose pid we recorded are ever signalled; nothing is looked up
by name.

Example::

    port = free_port()
    pid = spawn(["python", "-m", "http.server", str(port), "-b", "127.0.0.1"], log)
    wait_for_port("http", port, pid, log, timeout=10)
    terminate(pid)
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

LOOPBACK = "127.0.0.1"

# Popen objects of the servers this process started: kept so they can be
# reaped (no zombies while a test session still runs) and not garbage
# collected while the server is meant to keep running.
_CHILDREN: Dict[int, subprocess.Popen[bytes]] = {}


class ProcessError(RuntimeError):
    """A server of the local stack did not start or did not stop."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    >>> 0 < free_port() < 65536
    True
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_free(port: int) -> bool:
    """True when ``port`` can be bound on 127.0.0.1 right now by a server.

    With SO_REUSEADDR, as every server of the stack binds (Jetty, asyncio, http.server):
    connections of a killed server left in TIME_WAIT do not keep it from its old port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def port_answers(port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=timeout):
            return True
    except OSError:
        return False


def spawn(
    argv: Sequence[str],
    log: Path,
    *,
    cwd: Optional[Path] = None,
    env: Optional[Dict[str, str]] = None,
) -> int:
    """Start ``argv`` in its own session, output appended to ``log``; return its pid.

    The new session keeps the server alive after the CLI returns and out of
    reach of the terminal's Ctrl-C.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    _CHILDREN[proc.pid] = proc
    return proc.pid


def _reap(pid: int) -> bool:
    """Collect ``pid`` if it is our exited child; True when it has exited."""
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return False
        del _CHILDREN[pid]
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def _cmdline(pid: int) -> Optional[str]:
    """The command line of ``pid`` from /proc, or None where /proc is absent."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return "" if Path("/proc/self").exists() else None
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the parenthesised command name, which may hold spaces.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def is_alive(pid: int, marker: Optional[str] = None) -> bool:
    """True when ``pid`` runs (not a zombie) and, where /proc can tell, its
    command line contains ``marker``: a recycled pid is then not mistaken for
    our server.
    """
    if pid <= 0 or _reap(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        # Exists but belongs to another user (postgres runs as its own user
        # when we are root); still alive.
        pass
    if _is_zombie(pid):
        return False
    if marker is not None:
        cmdline = _cmdline(pid)
        if cmdline is not None and marker not in cmdline:
            return False
    return True


def terminate(
    pid: int,
    marker: Optional[str] = None,
    *,
    sig: signal.Signals = signal.SIGTERM,
    grace: float = 10.0,
) -> None:
    """Send ``sig`` to ``pid``, then SIGKILL if it is still alive after ``grace`` s.

    Does nothing when the pid no longer runs our server (see :func:`is_alive`).
    """
    if not is_alive(pid, marker):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    if _wait_gone(pid, grace):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if not _wait_gone(pid, 5.0):
        raise ProcessError(f"process {pid} survived SIGKILL")


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return True
        time.sleep(0.05)
    return not is_alive(pid)


def log_tail(log: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of ``log`` (empty when there is none)."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_for_port(name: str, port: int, pid: int, log: Path, timeout: float) -> None:
    """Wait until 127.0.0.1:port answers; fail early and clearly if ``pid`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_answers(port, timeout=0.2):
            return
        if not is_alive(pid):
            raise ProcessError(
                f"{name} (pid {pid}) exited before listening on 127.0.0.1:{port}; "
                f"see {log}:\n{log_tail(log)}"
            )
        time.sleep(0.1)
    raise ProcessError(
        f"{name} (pid {pid}) did not answer on 127.0.0.1:{port} within {timeout:.0f} s; "
        f"see {log}:\n{log_tail(log)}"
    )

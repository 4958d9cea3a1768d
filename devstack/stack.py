"""The local stack: DynamoDB Local, the warehouse, the Data API emulator, the wire endpoint.

Everything listens on 127.0.0.1 only (the warehouse on a unix socket only).
Pids, ports and page size are recorded in ``state.json`` in the state
directory, next to the logs (``logs/``) and the warehouse data (``pg/``); only
recorded pids are ever stopped.

Example::

    stack = Stack()                 # .devstack/ at the repository root
    env = stack.up(page_size=100)   # idempotent; reuses a running stack
    os.environ.update(env)
    stack.down()
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from devstack import dynamodb_local, procs, warehouse
from devstack.paths import PAGE_SIZE_ENV, python_env, python_module
from devstack.paths import page_size as resolve_page_size
from devstack.paths import state_dir as resolve_state_dir

LOOPBACK = procs.LOOPBACK
REGION = "us-east-1"
DUMMY_KEY = "local"  # not a secret: DynamoDB Local and the emulator accept anything
CLUSTER = "local"
_STATE_FILE = "state.json"
_SERVICES = ("dynamodb", "dataapi", "wire")  # start order
_TIMEOUTS = {"dynamodb": 90.0, "dataapi": 30.0, "wire": 15.0}


class StackError(RuntimeError):
    """The local stack is not running, or one of its servers failed."""


@dataclass(frozen=True)
class Service:
    """One recorded background server: pid, TCP port on 127.0.0.1, log, a string
    of its command line that tells it apart from a recycled pid, and its whole
    command line (empty when an older version recorded it), to tell when the
    server must be started again with other arguments."""

    name: str
    pid: int
    port: int
    log: str
    marker: str
    command: str = ""

    def alive(self) -> bool:
        """The process runs (and is ours)."""
        return procs.is_alive(self.pid, self.marker)

    def healthy(self) -> bool:
        """The process runs and its port answers."""
        return self.alive() and procs.port_answers(self.port)


@dataclass(frozen=True)
class ServiceStatus:
    """A line of ``status``: where a server runs and whether it is alive."""

    name: str
    pid: Optional[int]
    address: str
    alive: bool
    log: str


class Stack:
    """The local stack in one state directory.

    ``started_now`` tells whether the last :meth:`up` started the servers (as
    opposed to finding them running), so a test fixture stops only what it
    started; ``restarted`` lists the servers it started again on a running stack,
    each with the reason.
    """

    def __init__(self, state_dir: Optional[Path] = None) -> None:
        self.state_dir = resolve_state_dir(state_dir)
        self.started_now = False
        self.restarted: List[Tuple[str, str]] = []

    @property
    def pgdata(self) -> Path:
        """The warehouse's data directory."""
        return self.state_dir / "pg"

    @property
    def _state_path(self) -> Path:
        return self.state_dir / _STATE_FILE

    @property
    def _log_dir(self) -> Path:
        return self.state_dir / "logs"

    # -- public API --------------------------------------------------------

    def up(self, page_size: Optional[int] = None) -> Dict[str, str]:
        """Start the stack, or find it running; return its environment.

        On a running stack, the warehouse's roles and rights are brought up to
        date, and a server that died, stopped answering or runs with other
        arguments (the Data API when an explicit ``page_size`` or
        ``$CONTABYX_LOCAL_PAGE_SIZE`` differs from the running one) is started
        again (on its old port when free) and listed in ``restarted``. Healthy
        servers are left alone; DynamoDB Local keeps its tables unless it is
        restarted (they live in its memory).
        """
        self.restarted = []
        with self._locked():
            state = self._load()
            wh = warehouse.running(self.pgdata)
            if state is not None and wh is not None and _same_warehouse(state, wh):
                self.started_now = False
                warehouse.prepare(wh)
                wanted = _explicit_page_size(page_size)
                return _env(self._repair(state, wh, wanted or int(str(state["page_size"]))))
            if state is not None:
                self._stop_services(state)
            state = self._start(resolve_page_size(page_size))
            self.started_now = True
            return _env(state)

    def down(self) -> None:
        """Stop the recorded servers (SIGTERM, then SIGKILL) and the warehouse."""
        with self._locked():
            state = self._load()
            if state is not None:
                self._stop_services(state)
            warehouse.stop(self.pgdata)
            with contextlib.suppress(FileNotFoundError):
                self._state_path.unlink()

    def env(self) -> Dict[str, str]:
        """The environment of the running stack; StackError when it does not run."""
        state = self._load()
        if state is None or not self._healthy(state):
            raise StackError(
                f"the local stack is not running in {self.state_dir}; run `contabyx-local up`"
            )
        return _env(state)

    def is_running(self) -> bool:
        """True when every server runs and answers."""
        state = self._load()
        return state is not None and self._healthy(state)

    def status(self) -> List[ServiceStatus]:
        """One line per server (recorded or not): pid, address, alive."""
        state = self._load()
        services = {s.name: s for s in _services(state)} if state else {}
        wh = warehouse.running(self.pgdata)
        lines = [
            ServiceStatus(
                name="warehouse",
                pid=wh.pid if wh else None,
                address=f"unix:{wh.socket_path}" if wh else f"unix:{self.pgdata}",
                alive=wh is not None,
                log=str(self.pgdata / "log"),
            )
        ]
        for name in _SERVICES:
            svc = services.get(name)
            lines.append(
                ServiceStatus(
                    name=name,
                    pid=svc.pid if svc else None,
                    address=f"{LOOPBACK}:{svc.port}" if svc else "-",
                    alive=svc.healthy() if svc else False,
                    log=svc.log if svc else str(self._log_dir / f"{name}.log"),
                )
            )
        return lines

    def warehouse_conninfo(self) -> str:
        """psycopg conninfo of the running warehouse (database ``dev``)."""
        wh = warehouse.running(self.pgdata)
        if wh is None:
            raise StackError(
                f"the warehouse is not running in {self.pgdata}; run `contabyx-local up`"
            )
        return wh.conninfo

    # -- internals -----------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Two `up`s at once (say, two test sessions) must not start two stacks.
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with (self.state_dir / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> Optional[Dict[str, object]]:
        try:
            data = json.loads(self._state_path.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _save(self, state: Dict[str, object]) -> None:
        tmp = self._state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        os.replace(tmp, self._state_path)

    def _healthy(self, state: Dict[str, object]) -> bool:
        services = _services(state)
        return (
            len(services) == len(_SERVICES)
            and all(s.healthy() for s in services)
            and warehouse.running(self.pgdata) is not None
        )

    def _start(self, page_size: int) -> Dict[str, object]:
        dynamodb_local.ensure_dynamodb_local()  # fetch and verify before starting anything
        wh = warehouse.start(self.pgdata)
        ports = _distinct_free_ports(len(_SERVICES))
        state: Dict[str, object] = {
            "page_size": page_size,
            "warehouse": {"pid": wh.pid, "socket": str(wh.socket_path)},
            "services": [],
        }
        started: List[Service] = []
        try:
            for name, port in zip(_SERVICES, ports):
                started.append(self._spawn(name, port, wh, page_size))
                state["services"] = [asdict(s) for s in started]
                self._save(state)  # recorded at once, so `down` can clean up a failed start
            self._wait(started)
        except BaseException:
            self._stop_services(state)
            raise
        return state

    def _repair(
        self, state: Dict[str, object], wh: warehouse.Warehouse, page_size: int
    ) -> Dict[str, object]:
        """Restart the servers that need it; keep the others (and their ports)."""
        services = {s.name: s for s in _services(state)}
        restarted: List[Service] = []
        for name in _SERVICES:
            old = services.get(name)
            reason = self._restart_reason(name, old, wh, page_size)
            if reason is None:
                continue
            port = procs.free_port()
            if old is not None:
                procs.terminate(old.pid, old.marker)
                port = old.port if procs.port_free(old.port) else port
            services[name] = self._spawn(name, port, wh, page_size)
            restarted.append(services[name])
            self.restarted.append((name, reason))
        recorded_wh = {"pid": wh.pid, "socket": str(wh.socket_path)}
        if restarted or state.get("warehouse") != recorded_wh:
            state = dict(state)
            state["page_size"] = page_size
            state["warehouse"] = recorded_wh
            state["services"] = [asdict(services[name]) for name in _SERVICES]
            self._save(state)
            self._wait(restarted)
        return state

    def _restart_reason(
        self, name: str, old: Optional[Service], wh: warehouse.Warehouse, page_size: int
    ) -> Optional[str]:
        """Why server ``name`` must be started again, or None when it can stay."""
        if old is None:
            return "it was not recorded"
        if not old.alive():
            return "it had stopped"
        if not procs.port_answers(old.port):
            return "it did not answer"
        wanted = " ".join(self._argv(name, old.port, wh, page_size))
        # A server recorded by an older version has no command: restart the ones whose
        # arguments may have changed (page size, PostgreSQL role), not DynamoDB Local,
        # whose tables would be lost.
        if old.command != wanted and (old.command or name != "dynamodb"):
            return "its arguments changed"
        return None

    def _argv(self, name: str, port: int, wh: warehouse.Warehouse, page_size: int) -> List[str]:
        if name == "dynamodb":
            home = dynamodb_local.ensure_dynamodb_local()
            return dynamodb_local.command(home, port, self.state_dir)
        if name == "dataapi":
            return python_module(
                "devstack.dataapi",
                "--host",
                LOOPBACK,
                "--port",
                str(port),
                "--conninfo",
                wh.sync_conninfo,
                "--page-size",
                str(page_size),
            )
        return python_module(
            "devstack.wire",
            "--port",
            str(port),
            "--pg-socket",
            str(wh.socket_path),
            "--pg-user",
            warehouse.REDSHIFT_USER,
        )

    def _spawn(self, name: str, port: int, wh: warehouse.Warehouse, page_size: int) -> Service:
        argv = self._argv(name, port, wh, page_size)
        log = self._log_dir / f"{name}.log"
        self._log_dir.mkdir(parents=True, exist_ok=True)
        with log.open("a") as fh:
            fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting {name} on port {port}\n")
        pid = procs.spawn(argv, log, cwd=self.state_dir, env=python_env())
        return Service(
            name=name,
            pid=pid,
            port=port,
            log=str(log),
            marker=_marker(name, argv),
            command=" ".join(argv),
        )

    @staticmethod
    def _wait(services: List[Service]) -> None:
        for svc in services:
            procs.wait_for_port(svc.name, svc.port, svc.pid, Path(svc.log), _TIMEOUTS[svc.name])

    def _stop_services(self, state: Dict[str, object]) -> None:
        # Reverse start order: clients of the warehouse go first.
        for svc in reversed(_services(state)):
            procs.terminate(svc.pid, svc.marker)


def _explicit_page_size(page_size: Optional[int]) -> Optional[int]:
    if page_size is None and not os.environ.get(PAGE_SIZE_ENV):
        return None
    return resolve_page_size(page_size)


def _same_warehouse(state: Dict[str, object], wh: warehouse.Warehouse) -> bool:
    recorded = state.get("warehouse")
    return isinstance(recorded, dict) and recorded.get("socket") == str(wh.socket_path)


def _marker(name: str, argv: List[str]) -> str:
    """A piece of the command line unique to this server instance."""
    if name == "dynamodb":
        return argv[-1]  # the wiring file inside this stack's state directory
    # "-m devstack.x ... --port P": the module and its port, as /proc shows them.
    return " ".join(argv[argv.index("-m") + 1 : argv.index("--port") + 2])


def _services(state: Dict[str, object]) -> List[Service]:
    raw = state.get("services")
    if not isinstance(raw, list):
        return []
    return [Service(**item) for item in raw if isinstance(item, dict)]


def _distinct_free_ports(count: int) -> List[int]:
    ports: List[int] = []
    while len(ports) < count:
        port = procs.free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _env(state: Dict[str, object]) -> Dict[str, str]:
    ports = {s.name: s.port for s in _services(state)}
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": f"http://{LOOPBACK}:{ports['dynamodb']}",
        "AWS_ENDPOINT_URL_REDSHIFT_DATA": f"http://{LOOPBACK}:{ports['dataapi']}",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": DUMMY_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_KEY,
        "DATABASE": warehouse.DATABASE,
        "CLUSTER": CLUSTER,
        "DBUSER": warehouse.REDSHIFT_USER,
        "REDSHIFT_HOST": LOOPBACK,
        "REDSHIFT_PORT": str(ports["wire"]),
    }


def dotenv_lines(env: Dict[str, str]) -> str:
    """``KEY=VALUE`` lines, in the order of ``env``, newline-terminated.

    >>> dotenv_lines({"A": "1", "B": "x"})
    'A=1\\nB=x\\n'
    """
    return "".join(f"{key}={value}\n" for key, value in env.items())


def write_env_file(path: Path, env: Dict[str, str]) -> None:
    """Write ``env`` as dotenv lines to ``path`` (replaced atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dotenv_lines(env))
    os.replace(tmp, path)

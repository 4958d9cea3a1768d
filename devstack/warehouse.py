"""PostgreSQL standing in for Redshift, run through the ``pgserver`` package.

The server listens on a unix socket only (no TCP at all) and outlives the
process that started it. ``start`` is idempotent: it creates the ``dev``
database and the ``awsuser`` login role when missing and applies
``sql/schema.sql``.

``awsuser`` is what a Redshift user of the sync is: no superuser, no member of
the roles that run programs or read and write server files, so no ``COPY ...
PROGRAM`` and no file access. It may create schemas, tables and views, and read
and insert rows; the servers that clients reach (the Data API emulator, the wire
front) connect as it. Only the seeder and test fixtures use the owner
(``postgres``), over the unix socket.

Example::

    wh = start(Path(".devstack/pg"))
    with psycopg.connect(wh.conninfo, autocommit=True) as conn:
        conn.execute("SELECT count(*) FROM contabyx.transactions")
    stop(Path(".devstack/pg"))
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import psycopg
from psycopg import sql

from devstack import procs
from devstack.paths import SCHEMA_SQL
from devstack.sqltext import without_table_attributes

DATABASE = "dev"
SUPERUSER = "postgres"
REDSHIFT_USER = "awsuser"
_PG_OS_USER = "pgserver"  # pgserver's own account for postgres when we are root


class WarehouseError(RuntimeError):
    """The local warehouse could not be started or stopped."""


@dataclass(frozen=True)
class Warehouse:
    """A running local warehouse: the postmaster pid and where its socket is."""

    pgdata: Path
    pid: int
    socket_dir: Path
    port: int

    @property
    def socket_path(self) -> Path:
        """The unix socket file, e.g. ``<socket_dir>/.s.PGSQL.5432``."""
        return self.socket_dir / f".s.PGSQL.{self.port}"

    @property
    def conninfo(self) -> str:
        """libpq conninfo of database ``dev`` as the ``postgres`` superuser."""
        return conninfo(self.socket_dir, self.port)

    @property
    def sync_conninfo(self) -> str:
        """libpq conninfo of database ``dev`` as ``awsuser``, the restricted role."""
        return conninfo(self.socket_dir, self.port, user=REDSHIFT_USER)


def conninfo(socket_dir: Path, port: int, dbname: str = DATABASE, user: str = SUPERUSER) -> str:
    """libpq conninfo for the unix socket in ``socket_dir``.

    >>> conninfo(Path("/tmp/pg"), 5432)
    'host=/tmp/pg port=5432 user=postgres dbname=dev'
    >>> conninfo(Path("/tmp/pg"), 5432, user="awsuser")
    'host=/tmp/pg port=5432 user=awsuser dbname=dev'
    """
    return f"host={socket_dir} port={port} user={user} dbname={dbname}"


def _pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset; pgserver copes.
        warnings.simplefilter("ignore")
        import pgserver

    return pgserver


def _pg_bin(name: str) -> Path:
    pgserver = _pgserver()
    return Path(pgserver.__file__).parent / "pginstall" / "bin" / name


def running(pgdata: Path) -> Optional[Warehouse]:
    """The warehouse running on ``pgdata`` according to postmaster.pid, else None."""
    pidfile = pgdata / "postmaster.pid"
    try:
        lines = pidfile.read_text().splitlines()
    except (FileNotFoundError, PermissionError):
        return None
    # postmaster.pid: pid, data dir, start time, port, socket dir, host, shmem, status.
    if len(lines) < 8 or lines[7].strip() != "ready" or not lines[4].strip():
        return None
    pid = int(lines[0])
    if not procs.is_alive(pid, str(pgdata)):
        return None
    return Warehouse(pgdata=pgdata, pid=pid, socket_dir=Path(lines[4].strip()), port=int(lines[3]))


def start(pgdata: Path) -> Warehouse:
    """Start (or find) the warehouse on ``pgdata`` and prepare ``dev``; idempotent."""
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    warehouse = running(pgdata)
    if warehouse is None:
        pgserver = _pgserver()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # cleanup_mode=None: the server must outlive this process.
            pgserver.get_server(pgdata, cleanup_mode=None)
        warehouse = running(pgdata)
        if warehouse is None:
            raise WarehouseError(f"postgres did not start; see {pgdata / 'log'}")
    prepare(warehouse)
    return warehouse


#: The role's attributes, stated in full so that an older stack's superuser
#: ``awsuser`` loses its rights on the next ``up``.
_ROLE_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
#: Built-in roles that run programs on, or read and write files of, the server.
_SERVER_ACCESS_ROLES = (
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_write_server_files",
)
#: The source tables: the owner's (the seeder replaces their rows), read by the sync.
_SOURCE_TABLES = ("contabyx.transactions", "contabyx.transactiontypes")


def prepare(warehouse: Warehouse) -> None:
    """Create database ``dev`` and role ``awsuser`` when missing; apply the schema; give
    ``awsuser`` its rights, no more. Idempotent, and cheap enough for every ``up``."""
    admin = conninfo(warehouse.socket_dir, warehouse.port, dbname="postgres")
    role = sql.Identifier(REDSHIFT_USER)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            # A concurrent `up` may create it first.
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        found = conn.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (REDSHIFT_USER,)
        ).fetchone()
        if found is None:
            with contextlib.suppress(psycopg.errors.DuplicateObject):
                conn.execute(sql.SQL("CREATE ROLE {}").format(role))
        conn.execute(sql.SQL(f"ALTER ROLE {{}} {_ROLE_ATTRIBUTES}").format(role))
        for granted in _SERVER_ACCESS_ROLES:
            conn.execute(
                sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(granted), role),
            )
    apply_schema(warehouse.conninfo)
    _grant(warehouse.conninfo)
    if found is not None and found[0]:
        _hand_over(warehouse.conninfo)


def _grant(dsn: str) -> None:
    """What a Redshift user of the sync (and of the tests) may do: create schemas; use
    every schema and create tables and views in it; read and insert the rows of every
    table, those the owner creates later included (a Spectrum stand-in, a test's
    scratch table)."""
    role = sql.Identifier(REDSHIFT_USER)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY, CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(DATABASE), role
            )
        )
        for statement in (
            "ALTER DEFAULT PRIVILEGES GRANT USAGE, CREATE ON SCHEMAS TO {}",
            "ALTER DEFAULT PRIVILEGES GRANT SELECT, INSERT ON TABLES TO {}",
        ):
            conn.execute(sql.SQL(statement).format(role))
        for (name,) in conn.execute(_USER_SCHEMAS).fetchall():
            for statement in (
                "GRANT USAGE, CREATE ON SCHEMA {} TO {}",
                "GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA {} TO {}",
            ):
                conn.execute(sql.SQL(statement).format(sql.Identifier(name), role))


_USER_SCHEMAS = (
    "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'"
)


def _hand_over(dsn: str) -> None:
    """Once, on a stack whose ``awsuser`` was a superuser: give it the tables and views
    it created then (they belong to the owner now), so it can still replace and drop
    them. The source tables stay the owner's."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        relations = conn.execute(
            "SELECT n.nspname, c.relname, c.relkind FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            f" WHERE c.relkind IN ('r', 'v') AND n.nspname IN ({_USER_SCHEMAS})"
            " AND pg_get_userbyid(c.relowner) <> %s"
            " AND n.nspname || '.' || c.relname <> ALL(%s)",
            (REDSHIFT_USER, list(_SOURCE_TABLES)),
        ).fetchall()
        for schema, name, kind in relations:
            conn.execute(
                sql.SQL("ALTER {} {}.{} OWNER TO {}").format(
                    sql.SQL("VIEW" if kind == "v" else "TABLE"),
                    sql.Identifier(schema),
                    sql.Identifier(name),
                    sql.Identifier(REDSHIFT_USER),
                )
            )


#: Redshift reads a clientid range cheaply from a table sorted by clientid (SORTKEY,
#: zone maps); PostgreSQL would scan the whole table for each range. This index
#: stands in for the sort key, so that the sync's range reads cost here what they
#: cost there. It is the stack's, not part of the contract in sql/schema.sql.
_SORT_KEY_STAND_IN = (
    "CREATE INDEX IF NOT EXISTS transactions_clientid ON contabyx.transactions (clientid)"
)


def postgres_schema(redshift_sql: str) -> str:
    """``sql/schema.sql`` as the local PostgreSQL accepts it: without table attributes.

    >>> postgres_schema("CREATE TABLE t (a INT) DISTSTYLE KEY DISTKEY (a) SORTKEY (a);")
    'CREATE TABLE t (a INT);'
    """
    return without_table_attributes(redshift_sql)


def apply_schema(dsn: str) -> None:
    """Run ``sql/schema.sql`` without Redshift's table attributes (idempotent: IF NOT
    EXISTS throughout), then the index that stands in for Redshift's sort key."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(postgres_schema(SCHEMA_SQL.read_text()).encode())
        conn.execute(_SORT_KEY_STAND_IN.encode())


def stop(pgdata: Path, grace: float = 15.0) -> None:
    """Stop the warehouse on ``pgdata`` (fast shutdown), if it runs."""
    pgdata = pgdata.resolve()
    warehouse = running(pgdata)
    if warehouse is None:
        return
    # pg_ctl refuses to run as root; postgres then runs as pgserver's account.
    user = _PG_OS_USER if hasattr(os, "geteuid") and os.geteuid() == 0 else None
    # On failure, fall back to signalling the recorded postmaster below.
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        subprocess.run(
            [
                str(_pg_bin("pg_ctl")),
                "-D",
                str(pgdata),
                "-m",
                "fast",
                "-w",
                "-t",
                str(int(grace)),
                "stop",
            ],
            check=False,
            capture_output=True,
            user=user,
            timeout=grace + 5,
        )
    # SIGINT is postgres's fast shutdown; SIGKILL only if that hangs.
    procs.terminate(warehouse.pid, str(pgdata), sig=signal.SIGINT, grace=grace)

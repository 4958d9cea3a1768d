"""One run at a time on any machine, and a record of every run: the sync's own table.

The table ``SYNC_TABLE`` (partition key ``pk``, sort key ``sk``, both strings) holds:

- the **lease**, ``pk="lease", sk="sync"``: the run that may write (``holder``, its
  ``host`` and ``pid``) and until when (``acquired``, ``expires``, epoch seconds). A run
  takes it with a conditional PutItem that succeeds only if no lease exists, the lease
  expired, or the lease is already its own; it renews it every :data:`RENEW_EVERY`
  seconds from a daemon thread and deletes it at the end (only if it is still its own).
  A killed run's lease expires by itself after :data:`LEASE_TTL`.
- one **run record** per run, ``pk="run", sk=<run id>``: ``started``, ``ended``,
  ``mode``, ``status`` (``running``, ``succeeded``, ``failed``, ``rejected``), the
  per-table counts and the error line. Run ids start with the UTC start time, so a
  Query of ``pk="run"`` in reverse order lists the latest first.

The lock of ``scripts/insert.sh`` guards one machine; this lease guards all of them.
Every DynamoDB call of both lives here.

>>> parse_duration("26h"), parse_duration("90m"), parse_duration("2d"), parse_duration("45s")
(93600.0, 5400.0, 172800.0, 45.0)
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Optional

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from dynamo.aws import ADMIN_ATTEMPTS
from dynamo.errors import LeaseLost, RunInProgress, SyncError

if TYPE_CHECKING:  # dynamo.metrics reads this module's states
    from dynamo.metrics import MetricsPublisher

log = logging.getLogger(__name__)

#: How long a lease lasts unless renewed, in seconds. Ten minutes: a renewal every
#: :data:`RENEW_EVERY` (200 s) may fail twice in a row (each DynamoDB call gives up
#: within about a minute: attempts times AWS_READ_TIMEOUT) before the lease lapses,
#: while a killed run blocks the next one for ten minutes at most, which a nightly
#: sync can afford. Clocks of the machines must agree to well within this (NTP).
LEASE_TTL = 600.0
#: A run renews its lease this often: three renewals fit in one TTL.
RENEW_EVERY = LEASE_TTL / 3

LEASE_KEY = {"pk": {"S": "lease"}, "sk": {"S": "sync"}}
RUN_PK = "run"
#: The states of a run record.
RUNNING, SUCCEEDED, FAILED, REJECTED = "running", "succeeded", "failed", "rejected"
#: The longest error line a record keeps.
_ERROR_CHARS = 1000


def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _code(exc: BaseException) -> Any:
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")


def _is_condition_failure(exc: Exception) -> bool:
    code = _code(exc)
    return bool(code == "ConditionalCheckFailedException")


@contextmanager
def _table_must_exist(table: str) -> Iterator[None]:
    """A call on a missing sync table is a SyncError saying to create it; an endpoint
    that does not answer (after the client's attempts, each bounded by its timeouts)
    is one saying what to check."""
    try:
        yield
    except (BotoConnectionError, HTTPClientError) as exc:  # timeouts, refused, reset
        raise SyncError(
            f"DynamoDB did not answer ({' '.join(str(exc).split())}) after {ADMIN_ATTEMPTS} "
            f"attempts on the sync's table {table}: check AWS_ENDPOINT_URL_DYNAMODB, "
            "AWS_REGION and the network (AWS_CONNECT_TIMEOUT and AWS_READ_TIMEOUT bound "
            "each attempt), then re-run"
        ) from exc
    except Exception as exc:
        if _code(exc) == "ResourceNotFoundException":
            raise SyncError(
                f"the sync's table {table} does not exist: run contabyx-etl create-tables "
                "(and check SYNC_TABLE and AWS_REGION)"
            ) from exc
        raise


class Lease:
    """The sync's lease, held by run ``run_id`` from :meth:`acquire` to :meth:`release`.

    :meth:`check` raises :class:`LeaseLost` once the lease is no longer certainly this
    run's (a renewal found another holder, or its expiry passed without a renewal):
    call it before advancing any state.
    """

    def __init__(self, client: Any, table: str, run_id: str, *, ttl: float = LEASE_TTL) -> None:
        self._client = client
        self._table = table
        self.run_id = run_id
        self.ttl = ttl
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.expires = 0.0
        #: When this run took the lease (renewals keep it).
        self.acquired = 0.0
        self._lost: Optional[str] = None
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def acquire(self) -> None:
        """Take the lease, or raise :class:`RunInProgress` naming the run that holds it."""
        self.acquired = time.time()
        try:
            with _table_must_exist(self._table):
                self._put(condition="attribute_not_exists(pk) OR expires < :now OR holder = :me")
        except Exception as exc:
            if not _is_condition_failure(exc):
                raise
            raise self._refusal() from None
        log.info("run %s took the sync's lease until %s", self.run_id, _when(self.expires))
        self._thread = threading.Thread(target=self._renew_loop, name="lease", daemon=True)
        self._thread.start()

    def _put(self, condition: str) -> None:
        now = time.time()
        expires = now + self.ttl
        self._client.put_item(
            TableName=self._table,
            Item={
                **LEASE_KEY,
                "holder": {"S": self.run_id},
                "host": {"S": self.host},
                "pid": {"N": str(self.pid)},
                "acquired": {"N": f"{self.acquired:.3f}"},
                "expires": {"N": f"{expires:.3f}"},
            },
            ConditionExpression=condition,
            ExpressionAttributeValues={
                ":me": {"S": self.run_id},
                **({":now": {"N": f"{now:.3f}"}} if ":now" in condition else {}),
            },
        )
        self.expires = expires

    def _refusal(self) -> RunInProgress:
        with _table_must_exist(self._table):
            item = self._client.get_item(TableName=self._table, Key=LEASE_KEY, ConsistentRead=True)
        held = item.get("Item")
        if not held:  # released between the two calls: the next attempt will take it
            return RunInProgress(
                "another run held the sync's lease a moment ago; re-run to take it"
            )
        holder = held.get("holder", {}).get("S", "?")
        host = held.get("host", {}).get("S", "?")
        pid = held.get("pid", {}).get("N", "?")
        expires = float(held.get("expires", {}).get("N", "0"))
        return RunInProgress(
            f"run {holder} (host {host}, pid {pid}) holds the sync's lease until "
            f"{_when(expires)}: wait for it to end; if that run is dead, its lease "
            "expires by itself then, and the next run goes ahead"
        )

    def renew(self) -> None:
        """Extend the lease by the TTL; a holder other than this run marks it lost."""
        try:
            self._put(condition="holder = :me")
        except Exception as exc:
            if _is_condition_failure(exc):
                self._lost = "another run took the sync's lease after this one's expired"
                log.warning("run %s lost the sync's lease: %s", self.run_id, self._lost)
            else:  # the next renewal may succeed; check() counts the expiry meanwhile
                log.warning("could not renew the sync's lease (%s)", " ".join(str(exc).split()))

    def _renew_loop(self) -> None:
        while not self._stop.wait(min(RENEW_EVERY, self.ttl / 3)):
            if self._lost:
                return
            self.renew()

    def check(self) -> None:
        """Raise :class:`LeaseLost` unless this run certainly still holds the lease."""
        if self._lost is None and time.time() >= self.expires:
            self._lost = f"its lease expired at {_when(self.expires)} without a renewal"
        if self._lost is not None:
            raise LeaseLost(
                f"run {self.run_id} stopped before changing anything more: {self._lost}; "
                "re-run once no other run holds the lease"
            )

    def release(self) -> None:
        """Stop renewing and delete the lease if it is still this run's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=LEASE_KEY,
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": self.run_id}},
            )
        except Exception as exc:  # never hide the run's own outcome; the TTL frees it
            if not _is_condition_failure(exc):
                log.warning(
                    "could not release the sync's lease (%s); it expires at %s",
                    " ".join(str(exc).split()),
                    _when(self.expires),
                )


class RunRecord:
    """The record of one run: written ``running`` when it starts, again when it ends."""

    def __init__(self, client: Any, table: str, run_id: str, mode: str) -> None:
        self._client = client
        self._table = table
        self.run_id = run_id
        self.mode = mode
        self.started = time.time()
        #: Table name -> counts (``items``, ``retries``, ``rejected``, ``pruned``).
        self.tables: dict[str, dict[str, int]] = {}
        #: ``succeeded`` unless set otherwise (``rejected``) before the end.
        self.outcome = SUCCEEDED

    #: The counts of a table's summary a record keeps.
    RECORDED = ("items", "deleted", "unchanged", "write_units", "retries", "rejected", "pruned")

    def counts(self, tables: Mapping[str, Mapping[str, Any]]) -> None:
        """Keep the per-table counts of a ``--json`` summary's ``tables`` (numbers only)."""
        for name, summary in tables.items():
            self.tables[name] = {
                key: len(value) if isinstance(value, list) else int(value)
                for key, value in summary.items()
                if key
                in ("items", "deleted", "unchanged", "write_units", "retries", "rejected", "pruned")
            }

    def write(self, status: str, error: str = "", ended: Optional[float] = None) -> None:
        item: dict[str, Any] = {
            "pk": {"S": RUN_PK},
            "sk": {"S": self.run_id},
            "mode": {"S": self.mode},
            "status": {"S": status},
            "host": {"S": socket.gethostname()},
            "started": {"N": f"{self.started:.3f}"},
            "tables": {
                "M": {
                    name: {"M": {k: {"N": str(v)} for k, v in counts.items()}}
                    for name, counts in self.tables.items()
                }
            },
        }
        if ended is not None:
            item["ended"] = {"N": f"{ended:.3f}"}
        if error:
            item["error"] = {"S": " ".join(error.split())[:_ERROR_CHARS]}
        with _table_must_exist(self._table):
            self._client.put_item(TableName=self._table, Item=item)


def error_line(exc: BaseException) -> str:
    """One line for a record: the error's own message (the sync's say what fixes them)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, SyncError) else f"{type(exc).__name__}: {text}"


@contextmanager
def exclusive_run(
    client: Any,
    table: str,
    run_id: str,
    *,
    mode: str = "full",
    ttl: float = LEASE_TTL,
    metrics: Optional[MetricsPublisher] = None,
) -> Iterator[tuple[Lease, RunRecord]]:
    """Take the lease, record the run as running, yield; then record its end, publish
    its metrics (``metrics``, if any) and release. A run that cannot take the lease for
    any reason but another run holding it publishes its failure too.

    An exception inside is recorded as ``failed`` with its line, and raised again.
    """
    lease = Lease(client, table, run_id, ttl=ttl)
    started = time.time()
    try:
        lease.acquire()
    except RunInProgress:  # another run is syncing: not a failure of the sync
        raise
    except BaseException:  # the sync's table is missing, DynamoDB does not answer, ...
        if metrics is not None:  # no record can say so: the failure alarm must
            metrics.publish(FAILED, started, time.time(), {})
        raise
    record = RunRecord(client, table, run_id, mode)
    try:
        record.write(RUNNING)
        yield lease, record
    except BaseException as exc:
        _record_end(record, FAILED, error_line(exc), metrics=metrics)
        raise
    else:
        _record_end(record, record.outcome, metrics=metrics)
    finally:
        lease.release()


def _record_end(
    record: RunRecord, status: str, error: str = "", *, metrics: Optional[MetricsPublisher] = None
) -> None:
    ended = time.time()
    try:
        record.write(status, error, ended=ended)
    except Exception as exc:  # the run's own outcome matters more than its record
        log.warning("could not record the end of run %s (%s)", record.run_id, exc)
    if metrics is not None:  # even without a record: the alarms must still hear of the run
        metrics.publish(status, record.started, ended, record.tables)


# --------------------------------------------------------------------------- reading


def latest_runs(client: Any, table: str, last: int) -> list[dict[str, Any]]:
    """The ``last`` latest run records, latest first, as plain values."""
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :run",
        ExpressionAttributeValues={":run": {"S": RUN_PK}},
        ScanIndexForward=False,
        PaginationConfig={"MaxItems": last, "PageSize": min(max(last, 1), 100)},
    )
    with _table_must_exist(table):
        return [_plain_record(item) for page in pages for item in page["Items"]][:last]


def last_success(client: Any, table: str) -> Optional[dict[str, Any]]:
    """The latest record that ended ``succeeded`` or ``rejected`` (it completed)."""
    pages = client.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :run",
        ExpressionAttributeValues={":run": {"S": RUN_PK}},
        ScanIndexForward=False,
    )
    with _table_must_exist(table):
        for page in pages:
            for item in page["Items"]:
                record = _plain_record(item)
                if record["status"] in (SUCCEEDED, REJECTED):
                    return record
    return None


def current_holder(client: Any, table: str) -> Optional[str]:
    """The run id holding an unexpired lease, if any."""
    with _table_must_exist(table):
        item = client.get_item(TableName=table, Key=LEASE_KEY, ConsistentRead=True).get("Item")
    if not item or float(item["expires"]["N"]) < time.time():
        return None
    return str(item["holder"]["S"])


def _plain_record(item: dict[str, Any]) -> dict[str, Any]:
    tables = {
        name: {k: int(v["N"]) for k, v in counts["M"].items()}
        for name, counts in item.get("tables", {}).get("M", {}).items()
    }
    return {
        "run": item["sk"]["S"],
        "mode": item.get("mode", {}).get("S", "full"),
        "status": item.get("status", {}).get("S", RUNNING),
        "host": item.get("host", {}).get("S", ""),
        "started": float(item["started"]["N"]),
        "ended": float(item["ended"]["N"]) if "ended" in item else None,
        "tables": tables,
        "error": item.get("error", {}).get("S", ""),
    }


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """Seconds in ``26h``, ``90m``, ``2d`` or ``45s``; ValueError for anything else."""
    match = _DURATION.match(str(text).lower())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(
            f"{text!r} is not a duration: a positive number and a unit, s, m, h or d (26h)"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]

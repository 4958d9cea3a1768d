"""Load: write items to DynamoDB with parallel ``BatchWriteItem``, retried until done.

Every DynamoDB write of the sync is in this module.

Example::

    with ItemWriter(client, workers=8) as writer:
        for item in items:
            writer.put("clients_info", item)
    writer.stats.items    # {'clients_info': 20000}

``UnprocessedItems``, throttling (``ProvisionedThroughputExceededException``,
``ThrottlingException``, ``RequestLimitExceeded``), 5xx answers, dropped
connections and timeouts are re-sent with exponential backoff and full jitter,
at most ``max_retries`` times per batch, and for an endpoint that does not
answer (timeouts, refused connections) for at most ``retry_seconds`` seconds:
a silent endpoint fails the run in about a minute, not after every retry has
waited its full read timeout. Each retry is logged at INFO with its reason. A
batch that still fails stops the run: the context manager raises
:class:`WriteError` naming the clientids not written, and :func:`advice` says
what will fix it. Puts replace whole items, so re-sending one, or re-running
the sync, is safe.

A batch DynamoDB refuses as invalid (``ValidationException``: an item it cannot
store) is re-sent one item at a time, so that only the items it refuses are left
out; they are counted in ``stats.rejected`` by clientid with DynamoDB's reason,
and the run goes on.

Every ``BatchWriteItem`` asks DynamoDB for the write units it consumed
(``ReturnConsumedCapacity``); ``stats.write_units`` adds them up by table, and
falls back on :func:`dynamo.shape.write_units` of the items written when an
answer has none. With a :class:`dynamo.pacing.WritePacer`, each batch waits for
its estimated units to fit under the cap before it is sent.
"""

from __future__ import annotations

import copy
import logging
import math
import queue
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from types import TracebackType
from typing import Any, Optional

from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from contabyx import backoff, layout
from contabyx.errors import ACCESS_CODES as ACCESS_CODES  # dynamo.cli reads it here
from contabyx.errors import CREDENTIAL_CODES, THROTTLE_CODES
from dynamo.errors import WriteError as WriteError  # its home before dynamo.errors
from dynamo.pacing import WritePacer
from dynamo.shape import item_size, write_units

log = logging.getLogger(__name__)

#: BatchWriteItem takes at most 25 requests.
BATCH_SIZE = 25

#: Throttling and DynamoDB's own failures: worth sending again.
RETRYABLE_CODES = THROTTLE_CODES | {"InternalServerError", "ServiceUnavailable"}

#: An endpoint that does not answer is retried for this long (seconds, per batch).
RETRY_SECONDS = 45.0

#: Bad or expired credentials (the library's list; dynamo.cli reads it here).
AUTH_CODES = CREDENTIAL_CODES

Item = dict[str, Any]
Request = dict[str, Any]


def retry_reason(exc: BaseException) -> Optional[str]:
    """Why ``exc`` is worth retrying (throttled, 5xx, dropped, timed out), or None if not."""
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return describe(exc) if code in RETRYABLE_CODES or status >= 500 else None
    if isinstance(exc, (ConnectionError, HTTPClientError)):
        return describe(exc)
    return None


def _unanswered(exc: Optional[BaseException]) -> bool:
    # Timeouts and refused or dropped connections: the endpoint did not answer.
    return isinstance(exc, (ConnectionError, HTTPClientError))


def advice(exc: Optional[BaseException]) -> str:
    """What will fix a DynamoDB failure, for the one line an operator reads.

    >>> advice(None)
    're-run it to complete them (writes are idempotent)'
    """
    rerun = "re-run it to complete them (writes are idempotent)"
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            return "create the tables (contabyx-etl create-tables), then run again"
        if code in AUTH_CODES:
            return "check the credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
        if code in ACCESS_CODES:
            return "check the IAM policy of these credentials (config/iam/etl-policy.json)"
        return rerun if retry_reason(exc) else "a re-run alone will not fix this error"
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return "check the credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    if _unanswered(exc):
        return (
            "check that DynamoDB is reachable (AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB), "
            f"then {rerun}"
        )
    return rerun if exc is None else "a re-run alone will not fix this error"


def _spent(
    attempt: int,
    started: float,
    cause: Optional[BaseException],
    what: str,
    max_retries: int,
    retry_seconds: float,
) -> Optional[str]:
    """Why retry ``attempt`` of ``what`` is not made, or None to make it: a silent
    endpoint had ``retry_seconds`` since ``started``, or ``max_retries`` are spent."""
    elapsed = time.monotonic() - started
    if _unanswered(cause) and elapsed >= retry_seconds:
        return f"DynamoDB did not answer for {elapsed:.0f} s"
    if attempt > max_retries:
        return f"gave up on {what} after {max_retries} retries"
    return None


def call_with_retries(
    call: Callable[[], Any],
    *,
    what: str,
    max_retries: int,
    retry_seconds: float = RETRY_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """``call()``, retried like a batch of writes when it fails for a transient reason."""
    attempt, started = 0, time.monotonic()
    while True:
        try:
            return call()
        except Exception as exc:
            reason = retry_reason(exc)
            attempt += 1
            if reason is None or _spent(attempt, started, exc, what, max_retries, retry_seconds):
                raise
            wait = backoff.delay(attempt)
            log.info("retry %d of %d of %s in %.2f s: %s", attempt, max_retries, what, wait, reason)
            sleep(wait)


@dataclass
class WriteStats:
    """What an :class:`ItemWriter` did. Counters are updated under the writer's lock."""

    items: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    #: Write units consumed, by table: DynamoDB's figure, else computed by its rule.
    write_units: dict[str, int] = field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    unprocessed: int = 0
    throttled: int = 0
    server_errors: int = 0
    connection_errors: int = 0
    clientids: dict[str, array[int]] = field(default_factory=dict)
    #: Items DynamoDB refused as invalid, by table: (clientid, DynamoDB's reason).
    rejected: dict[str, list[tuple[int, str]]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The counts, for the run's summary: every field but the clientids and rejections."""
        return {
            f.name: copy.copy(getattr(self, f.name))
            for f in fields(self)
            if f.name not in ("clientids", "rejected")
        }


def request_units(request: Request) -> int:
    """The write units a request costs by DynamoDB's rule: a put, its item's; a delete,
    at least one (the deleted item's size is known only to DynamoDB)."""
    put = request.get("PutRequest")
    return write_units(item_size(put["Item"])) if put else 1


def _consumed(response: dict[str, Any], table: str) -> Optional[int]:
    # Whole units for plain writes; rounded up so that a fraction is never lost.
    for capacity in response.get("ConsumedCapacity") or ():
        if capacity.get("TableName") == table and "CapacityUnits" in capacity:
            units: float = capacity["CapacityUnits"]
            return math.ceil(units)
    return None


def _key_of(request: Request) -> int:
    body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
    return int(body[layout.KEY]["N"])


class ItemWriter:
    """Parallel, retried ``BatchWriteItem`` from a bounded pool of worker threads.

    ``put`` and ``delete`` may be called from several threads. Memory is bounded:
    when the workers fall behind, ``put`` waits.
    """

    def __init__(
        self,
        client: Any,
        *,
        workers: int = 8,
        max_retries: int = 20,
        retry_seconds: float = RETRY_SECONDS,
        backoff_base: float = backoff.BASE,
        backoff_cap: float = backoff.CAP,
        on_written: Optional[Callable[[str, int], None]] = None,
        sleep: Callable[[float], None] = time.sleep,
        pacer: Optional[WritePacer] = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self._client = client
        self._workers = workers
        self._max_retries = max_retries
        self._retry_seconds = retry_seconds
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._on_written = on_written
        self._sleep = sleep
        self._pacer = pacer
        self._queue: queue.Queue[Optional[tuple[str, list[Request]]]] = queue.Queue(workers * 2)
        self._pending: dict[str, list[Request]] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._first_error: Optional[str] = None
        self._first_cause: Optional[BaseException] = None
        self._not_written: dict[str, list[int]] = {}
        self.stats = WriteStats()

    # -- public ---------------------------------------------------------------

    def __enter__(self) -> ItemWriter:
        for n in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"dynamo-writer-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def put(self, table: str, item: Item) -> None:
        """Queue one item (in wire form) for ``table``."""
        self._add(table, {"PutRequest": {"Item": item}})

    def delete(self, table: str, clientid: int) -> None:
        """Queue the deletion of one client's item from ``table``."""
        self._add(table, {"DeleteRequest": {"Key": {layout.KEY: {"N": str(clientid)}}}})

    def flush(self) -> None:
        """Send the partial batches now."""
        with self._lock:
            pending, self._pending = self._pending, {}
        for table, requests in pending.items():
            if requests:
                self._submit(table, requests)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.flush()
        except WriteError:
            pass
        finally:
            if exc is not None:
                self._drop_queued()
            for _ in self._threads:
                self._queue.put(None)
            for thread in self._threads:
                thread.join()
        if self._first_error is not None and (exc is None or isinstance(exc, WriteError)):
            raise self._error() from self._first_cause

    # -- private --------------------------------------------------------------

    def _error(self) -> WriteError:
        lines = [
            f"{table}: {len(ids)} items not written, clientids {_ids(ids)}"
            for table, ids in sorted(self._not_written.items())
        ]
        return WriteError(
            f"{self._first_error}; " + "; ".join(lines),
            {t: sorted(i) for t, i in self._not_written.items()},
        )

    def _add(self, table: str, request: Request) -> None:
        if self._first_error is not None:
            raise self._error()
        with self._lock:
            batch = self._pending.setdefault(table, [])
            batch.append(request)
            if len(batch) < BATCH_SIZE:
                return
            self._pending[table] = []
        self._submit(table, batch)

    def _submit(self, table: str, batch: list[Request]) -> None:
        while True:
            if self._first_error is not None:
                self._not_done(table, batch)
                raise self._error()
            try:
                self._queue.put((table, batch), timeout=0.5)
                return
            except queue.Full:
                continue

    def _drop_queued(self) -> None:
        # The caller is failing already: drop what is queued so the workers stop soon.
        with self._lock:
            self._pending = {}
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return
            if job is not None:
                self._not_done(*job)

    def _not_done(self, table: str, requests: list[Request]) -> None:
        with self._lock:
            self._not_written.setdefault(table, []).extend(_key_of(r) for r in requests)

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            table, batch = job
            if self._first_error is not None:
                self._not_done(table, batch)
                continue
            try:
                self._write(table, batch)
            except _GaveUp as gave_up:
                self._stop(gave_up.reason, gave_up.cause)
                self._not_done(table, gave_up.remaining)
            except Exception as exc:  # any failure stops the run, loudly
                self._stop(f"writing to {table} failed: {describe(exc)}", exc)
                self._not_done(table, batch)

    def _stop(self, reason: str, cause: Optional[BaseException]) -> None:
        with self._lock:
            if self._first_error is None:
                self._first_error = reason
                self._first_cause = cause

    def _write(self, table: str, batch: list[Request]) -> None:
        """Send ``batch`` until all of it is written, backing off between attempts."""
        requests, attempt, started = batch, 0, time.monotonic()
        while True:
            sent = self._send(table, requests)
            if sent is None:
                return
            remaining, error, cause = sent
            self._record(table, requests, remaining)
            if not remaining:
                return
            attempt += 1
            spent = _spent(attempt, started, cause, table, self._max_retries, self._retry_seconds)
            if spent is not None:
                raise _GaveUp(f"{spent} ({error})", remaining, cause)
            with self._lock:
                self.stats.retries += 1
            wait = backoff.delay(attempt, base=self._backoff_base, cap=self._backoff_cap)
            log.info(
                "retry %d of %d of %d items for %s in %.2f s: %s",
                attempt,
                self._max_retries,
                len(remaining),
                table,
                wait,
                error,
            )
            self._sleep(wait)
            requests = remaining

    def _send(self, table: str, requests: list[Request]) -> Optional[_Sent]:
        """One ``BatchWriteItem``: the requests left to send, why, and the failure if any.
        None when DynamoDB refused the batch as invalid and it was sent one by one."""
        estimate = self._pace(requests)
        try:
            response = self._client.batch_write_item(
                RequestItems={table: requests}, ReturnConsumedCapacity="TOTAL"
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ValidationException":
                self._write_alone(table, requests, exc)
                return None
            if retry_reason(exc) is None:
                raise
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            with self._lock:
                self.stats.requests += 1
                if status >= 500:
                    self.stats.server_errors += 1
                else:
                    self.stats.throttled += 1
            return requests, describe(exc), exc
        except (ConnectionError, HTTPClientError) as exc:
            with self._lock:
                self.stats.requests += 1
                self.stats.connection_errors += 1
            return requests, describe(exc), exc
        remaining = response.get("UnprocessedItems", {}).get(table, [])
        units = _consumed(response, table)
        if units is None:
            left = {_key_of(r) for r in remaining}
            units = sum(request_units(r) for r in requests if _key_of(r) not in left)
        if self._pacer is not None and units > estimate:
            self._pacer.charge(units - estimate)
        with self._lock:
            self.stats.requests += 1
            self.stats.unprocessed += len(remaining)
            self.stats.write_units[table] = self.stats.write_units.get(table, 0) + units
        return remaining, f"{len(remaining)} items left unprocessed", None

    def _pace(self, requests: list[Request]) -> int:
        """Wait until the pacer lets ``requests`` go; the units it was told (0 unpaced).
        Sizing items costs time, so it is done only when a pacer needs it."""
        if self._pacer is None:
            return 0
        units = sum(request_units(r) for r in requests)
        self._pacer.take(units)
        return units

    def _write_alone(self, table: str, requests: list[Request], exc: ClientError) -> None:
        """Re-send a batch DynamoDB refused as invalid one request at a time, so that
        only the requests it refuses are left out (and counted as rejected)."""
        with self._lock:
            self.stats.requests += 1
        if len(requests) > 1:
            for request in requests:
                self._write(table, [request])
            return
        clientid = _key_of(requests[0])
        reason = describe(exc)
        log.warning("%s: DynamoDB refused the item of client %d: %s", table, clientid, reason)
        with self._lock:
            self.stats.rejected.setdefault(table, []).append((clientid, reason))

    def _record(self, table: str, sent: list[Request], remaining: list[Request]) -> None:
        if remaining is sent:
            return
        left = {_key_of(r) for r in remaining} if remaining else set()
        done = [r for r in sent if _key_of(r) not in left] if left else sent
        if not done:
            return
        puts = [_key_of(r) for r in done if "PutRequest" in r]
        deletes = len(done) - len(puts)
        with self._lock:
            if puts:
                self.stats.items[table] = self.stats.items.get(table, 0) + len(puts)
                self.stats.clientids.setdefault(table, array("q")).extend(puts)
            if deletes:
                self.stats.deleted[table] = self.stats.deleted.get(table, 0) + deletes
        if puts:
            log.info("wrote %d items to %s: clientids %s", len(puts), table, puts)
            if self._on_written is not None:
                self._on_written(table, len(puts))


#: What one ``BatchWriteItem`` left: the requests to send again, why, and the failure.
_Sent = tuple[list[Request], str, Optional[BaseException]]


class _GaveUp(Exception):
    def __init__(
        self, reason: str, remaining: list[Request], cause: Optional[BaseException]
    ) -> None:
        super().__init__(reason)
        self.reason, self.remaining, self.cause = reason, remaining, cause


def _ids(ids: list[int], most: int = 50) -> str:
    shown = ", ".join(str(i) for i in sorted(ids)[:most])
    return shown + (f" and {len(ids) - most} more" if len(ids) > most else "")


def describe(exc: BaseException) -> str:
    """``Code: message`` of an AWS error, ``Type: text`` of any other."""
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        return f"{err.get('Code', 'Error')}: {err.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"

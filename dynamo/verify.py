"""Verify: compare what DynamoDB holds with the latest snapshot (``contabyx-etl verify``).

The expected items are the snapshot's rows (the sync's own copy of the views, in
``SYNC_SCHEMA``) shaped by the same pure functions the sync writes with
(:mod:`dynamo.shape`); each is compared with the stored item attribute by attribute,
numbers as exact Decimals, the ``run`` attribute left out (which run wrote an item
is not a figure). Three kinds of difference, per table:

- ``missing``: a client of the snapshot without an item;
- ``extra``: an item of a client the snapshot does not hold (a full verify only:
  a Scan of the key attribute lists the stored clients);
- ``wrong``: an attribute whose stored value is not the expected one, by path
  (``y2024.months.m03.expense``), with both values.

Reads are paced: every ``BatchGetItem`` (100 keys at most, eventually consistent,
unprocessed keys retried with :mod:`contabyx.backoff`) and every Scan page first
takes its estimated read units from a :class:`ReadPacer`, so that DynamoDB is read
at no more than ``max_read_units`` a second. The warehouse is read like the sync
reads it: one plan statement and one statement per clientid range of the snapshot
(or, with ``sample``, one statement for the rows of ``sample`` random clients).

Example::

    report = verify_table(CLIENTS_INFO, settings, source=source, client=client)
    report.differences[:1]      # [Difference('clients_info', 42, 'missing', ...)]
"""

from __future__ import annotations

import functools
import json
import logging
import math
import time
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Optional

from botocore.exceptions import BotoCoreError, ClientError

from contabyx import backoff, layout
from dynamo.config import Settings
from dynamo.errors import ExtractError, ReadError
from dynamo.extract import Source
from dynamo.load import advice as write_advice
from dynamo.load import call_with_retries, describe, retry_reason
from dynamo.shape import Item, Rejected, item_size
from dynamo.sync import TableKind, plan_ranges
from dynamo.views import sync_query

log = logging.getLogger(__name__)

#: Keys of one ``BatchGetItem`` request, DynamoDB's limit.
BATCH_KEYS = 100
#: The default pace: read units a second (eventually consistent reads cost 0.5 a 4 KB).
MAX_READ_UNITS = 100.0
#: An eventually consistent read costs this many units per started 4 KB of an item.
UNITS_PER_4KB = 0.5
#: The most items one Scan page of the key is asked for.
SCAN_PAGE_ITEMS = 1000

MISSING, EXTRA, WRONG = "missing", "extra", "wrong"


def read_units(size: int) -> float:
    """The read units an eventually consistent read of an item of ``size`` bytes costs
    (DynamoDB rounds each item up to 4 KB; an item that does not exist costs one 4 KB).

    >>> read_units(0), read_units(4096), read_units(4097), read_units(400 * 1024)
    (0.5, 0.5, 1.0, 50.0)
    """
    return UNITS_PER_4KB * max(1, math.ceil(size / 4096))


class ReadPacer:
    """At most ``units_per_second`` read units taken in any one-second window.

    :meth:`acquire` waits (``sleep``) until the units taken in the last second, plus
    the ones asked for, fit. A request costing more than a second's worth takes
    them a second's worth at a time. :meth:`charge` records units spent beyond what
    was acquired (a read that cost more than its estimate), so later reads wait for
    them too. ``clock`` and ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        units_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        window: float = 1.0,
    ) -> None:
        if not units_per_second > 0:
            raise ValueError(f"units_per_second must be more than 0, not {units_per_second}")
        self.rate = float(units_per_second)
        self.window = window
        self._clock, self._sleep = clock, sleep
        self._taken: deque[tuple[float, float]] = deque()
        #: Every unit acquired or charged so far.
        self.total = 0.0

    def acquire(self, units: float) -> None:
        """Wait until ``units`` more fit in the window, then take them."""
        remaining = float(units)
        while remaining > 0:
            part = min(remaining, self.rate)
            self._take(part)
            remaining -= part

    def charge(self, units: float) -> None:
        """Record ``units`` already spent (no wait now; later acquisitions wait for them)."""
        if units > 0:
            self._taken.append((self._clock(), units))
            self.total += units

    def _used(self, now: float) -> float:
        while self._taken and self._taken[0][0] <= now - self.window:
            self._taken.popleft()
        return sum(units for _, units in self._taken)

    def _take(self, units: float) -> None:
        while True:
            now = self._clock()
            used = self._used(now)
            if used + units <= self.rate + 1e-9:
                self._taken.append((now, units))
                self.total += units
                return
            # Wait until enough of the oldest units leave the window.
            excess, freed, until = used + units - self.rate, 0.0, now
            for taken_at, taken in self._taken:
                freed += taken
                until = taken_at + self.window
                if freed >= excess - 1e-9:
                    break
            self._sleep(max(until - now, 1e-6))


@dataclass(frozen=True)
class Difference:
    """One way a table differs from the snapshot. Values are DynamoDB's Number text
    (exact), a string, or a short description of a map; None where there is none."""

    table: str
    clientid: int
    kind: str
    path: str = ""
    expected: Optional[str] = None
    stored: Optional[str] = None

    def line(self) -> str:
        """One line: ``clients_info: client 7 wrong income: expected 1.50, stored 2``."""
        head = f"{self.table}: client {self.clientid} {self.kind}"
        if self.kind == MISSING:
            return f"{head} (in the snapshot, not in DynamoDB)"
        if self.kind == EXTRA:
            return f"{head} (in DynamoDB, not in the snapshot)"
        return f"{head} {self.path}: expected {_text(self.expected)}, stored {_text(self.stored)}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "clientid": self.clientid,
            "kind": self.kind,
            "path": self.path or None,
            "expected": self.expected,
            "stored": self.stored,
        }


def _text(value: Optional[str]) -> str:
    return "nothing" if value is None else value


#: A differing attribute: its path, the expected value, the stored one.
Mismatch = tuple[str, Optional[str], Optional[str]]


def item_differences(expected: Item, stored: Item) -> list[Mismatch]:
    """How ``stored`` differs from ``expected`` (both wire form): ``(path, expected,
    stored)`` per differing attribute, the ``run`` attribute left out. Numbers are
    compared as exact Decimals (DynamoDB trims ``12.50`` to ``12.5``: equal).

    >>> item_differences({"clientid": {"N": "7"}, "income": {"N": "1.50"}, "run": {"S": "a"}},
    ...                  {"clientid": {"N": "7"}, "income": {"N": "2"}, "run": {"S": "b"}})
    [('income', '1.50', '2')]
    """
    out: list[Mismatch] = []
    names = (set(expected) | set(stored)) - {layout.RUN}
    for name in sorted(names):
        _compare((name,), expected.get(name), stored.get(name), out)
    return out


def _compare(
    path: tuple[str, ...],
    want: Optional[dict[str, Any]],
    got: Optional[dict[str, Any]],
    out: list[Mismatch],
) -> None:
    if want is not None and got is not None and "M" in want and "M" in got:
        for name in sorted(set(want["M"]) | set(got["M"])):
            _compare((*path, name), want["M"].get(name), got["M"].get(name), out)
    elif not _equal(want, got):
        out.append((".".join(path), _show(want), _show(got)))


def _equal(want: Optional[dict[str, Any]], got: Optional[dict[str, Any]]) -> bool:
    if want is not None and got is not None and "N" in want and "N" in got:
        try:
            return bool(Decimal(want["N"]) == Decimal(got["N"]))
        except InvalidOperation:
            return False
    return want == got


def _show(value: Optional[dict[str, Any]]) -> Optional[str]:
    if value is None:
        return None
    if "N" in value:
        return str(value["N"])
    if "S" in value:
        return json.dumps(value["S"])
    if "M" in value:
        return f"a map of {len(value['M'])} attributes"
    return json.dumps(value, sort_keys=True, default=str)


@dataclass
class TableReport:
    """What verifying one table found."""

    table: str
    #: Clients of the snapshot compared (all of them, or the sample).
    clients: int = 0
    #: The snapshot's clientids read, sorted (the unstorable ones included).
    clientids: array[int] = field(default_factory=lambda: array("q"))
    sample: Optional[int] = None
    #: Clients of the snapshot that shaping refused (the sync does not write them either).
    unstorable: int = 0
    differences: list[Difference] = field(default_factory=list)
    read_units: float = 0.0
    requests: int = 0
    retries: int = 0

    def count(self, kind: str) -> int:
        return sum(1 for d in self.differences if d.kind == kind)

    def summary(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "clients": self.clients,
            "sample": self.sample,
            "unstorable": self.unstorable,
            MISSING: self.count(MISSING),
            EXTRA: self.count(EXTRA),
            WRONG: self.count(WRONG),
            "read_units": self.read_units,
            "requests": self.requests,
            "retries": self.retries,
        }


# --- where the snapshot is read -------------------------------------------------------


#: A ``(low, high]`` clientid range.
Range = tuple[int, int]


@dataclass(frozen=True)
class SnapshotStatements:
    """The statements that read the snapshot ``verify`` compares DynamoDB with."""

    plan: str
    range: str
    sample: str


def snapshot_statements(kind: TableKind, settings: Settings) -> SnapshotStatements:
    """The one place that says which warehouse table holds the latest snapshot: the
    statements ``verify_*`` of ``sql/sync_queries.sql`` read the sync's whole copy of
    ``kind``'s view (the sync's own plan and ranges read only the clients a run marks)."""

    def query(step: str) -> str:
        return sync_query(f"verify_{step}_{kind.view}", settings.views_schema, settings.sync_schema)

    return SnapshotStatements(plan=query("plan"), range=query("range"), sample=query("sample"))


def read_ranges(source: Source, statements: SnapshotStatements, chunk: int) -> list[Range]:
    """The ``(low, high]`` clientid ranges of ``chunk`` clients of the whole snapshot."""
    bounds = [int(clientid) for (clientid,) in source.rows(statements.plan, {"chunk": chunk})]
    return plan_ranges(bounds)


def expected_rows(
    source: Source, kind: TableKind, settings: Settings, sample: Optional[int]
) -> Iterator[Any]:
    """The snapshot's rows of every client (range by range) or of ``sample`` random ones,
    ordered by clientid as shaping needs."""
    statements = snapshot_statements(kind, settings)
    try:
        if sample is not None:
            yield from source.rows(statements.sample, {"sample": sample})
            return
        for low, high in read_ranges(source, statements, settings.chunk_clients):
            yield from source.rows(statements.range, {"low": low, "high": high})
    except ExtractError as error:
        if "does not exist" not in str(error):
            raise
        raise ExtractError(
            f"{error}; verify compares DynamoDB with the snapshot a sync takes in "
            f"SYNC_SCHEMA ({settings.sync_schema}): run `contabyx-etl run` first"
        ) from error


# --- DynamoDB ------------------------------------------------------------------------


class _Reader:
    """Paced, retried DynamoDB reads of one table."""

    def __init__(
        self,
        client: Any,
        table: str,
        pacer: ReadPacer,
        report: TableReport,
        *,
        max_retries: int,
        sleep: Callable[[float], None],
    ) -> None:
        self.client, self.table, self.pacer, self.report = client, table, pacer, report
        self.max_retries, self.sleep = max_retries, sleep

    def _call(self, call: Callable[[], Any], what: str) -> Any:
        try:
            response = call_with_retries(
                call, what=what, max_retries=self.max_retries, sleep=self.sleep
            )
        except (ClientError, BotoCoreError, ConnectionError) as exc:
            raise ReadError(f"verify: {what} failed: {describe(exc)}; {_advice(exc)}") from exc
        self.report.requests += 1
        return response

    def _spent(self, response: dict[str, Any], estimate: float) -> None:
        consumed = response.get("ConsumedCapacity")
        if isinstance(consumed, dict):
            consumed = [consumed]
        units = sum(float(c.get("CapacityUnits", 0)) for c in consumed or [])
        self.pacer.charge(units - estimate)
        self.report.read_units += units if consumed else estimate

    def _batch_get(self, keys: list[Item]) -> Any:
        return self.client.batch_get_item(
            RequestItems={self.table: {"Keys": keys, "ConsistentRead": False}},
            ReturnConsumedCapacity="TOTAL",
        )

    def get(self, items: list[Item]) -> dict[int, Item]:
        """The stored items of the clients of ``items``, by clientid (absent: not stored)."""
        units = {int(item[layout.KEY]["N"]): read_units(item_size(item)) for item in items}
        pending = [{layout.KEY: item[layout.KEY]} for item in items]
        found: dict[int, Item] = {}
        attempt = 0
        while pending:
            estimate = sum(units[int(key[layout.KEY]["N"])] for key in pending)
            self.pacer.acquire(estimate)
            response = self._call(
                functools.partial(self._batch_get, pending), f"BatchGetItem on {self.table}"
            )
            self._spent(response, estimate)
            for raw in response.get("Responses", {}).get(self.table, []):
                found[int(raw[layout.KEY]["N"])] = raw
            pending = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
            if pending:
                attempt += 1
                if attempt > self.max_retries:
                    raise ReadError(
                        f"verify: DynamoDB left {len(pending)} keys of {self.table} unread "
                        f"after {self.max_retries} retries; lower --max-read-units and re-run"
                    )
                self.report.retries += 1
                self.sleep(backoff.delay(attempt))
        return found

    def stored_clientids(self, page_items: int) -> Iterator[int]:
        """Every clientid stored in the table: a paced, eventually consistent Scan of the key."""
        request: dict[str, Any] = {
            "TableName": self.table,
            "ProjectionExpression": "#k",
            "ExpressionAttributeNames": {"#k": layout.KEY},
            "Limit": page_items,
            "ReturnConsumedCapacity": "TOTAL",
        }
        estimate = UNITS_PER_4KB
        while True:
            self.pacer.acquire(estimate)
            page = self._call(lambda: self.client.scan(**request), f"a Scan page of {self.table}")
            self._spent(page, estimate)
            # The next page is about as large as this one.
            last = float((page.get("ConsumedCapacity") or {}).get("CapacityUnits", 0))
            estimate = min(max(last, UNITS_PER_4KB), self.pacer.rate)
            for item in page.get("Items", []):
                yield int(item[layout.KEY]["N"])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _advice(exc: BaseException) -> str:
    if retry_reason(exc) is not None:
        return "re-run it, with a lower --max-read-units if DynamoDB throttles"
    return write_advice(exc)


def _batches(expected: Iterable[Item], most_units: float) -> Iterator[list[Item]]:
    """Items in groups of at most :data:`BATCH_KEYS` whose read units fit in ``most_units``
    (one item alone if it costs more)."""
    batch: list[Item] = []
    units = 0.0
    for item in expected:
        cost = read_units(item_size(item))
        if batch and (len(batch) == BATCH_KEYS or units + cost > most_units):
            yield batch
            batch, units = [], 0.0
        batch.append(item)
        units += cost
    if batch:
        yield batch


def verify_table(
    kind: TableKind,
    settings: Settings,
    *,
    source: Source,
    client: Any,
    sample: Optional[int] = None,
    pacer: Optional[ReadPacer] = None,
    sleep: Callable[[float], None] = time.sleep,
) -> TableReport:
    """Compare ``kind``'s DynamoDB table with the latest snapshot; ``sample`` random
    clients only when given (and then no extra items are looked for)."""
    table = getattr(settings, kind.table_setting)
    pacer = pacer or ReadPacer(MAX_READ_UNITS)
    report = TableReport(table=table, sample=sample)
    reader = _Reader(client, table, pacer, report, max_retries=settings.max_retries, sleep=sleep)
    # Ranges come in clientid order and each range's rows too: the ids stay sorted.
    snapshot_ids = report.clientids
    item_bytes = 0

    def expected_items() -> Iterator[Item]:
        nonlocal item_bytes
        for shaped in kind.to_items(expected_rows(source, kind, settings, sample), run=""):
            if isinstance(shaped, Rejected):
                report.unstorable += 1
                if isinstance(shaped.clientid, int):
                    snapshot_ids.append(shaped.clientid)
                continue
            snapshot_ids.append(int(shaped[layout.KEY]["N"]))
            item_bytes += item_size(shaped)
            yield shaped

    for batch in _batches(expected_items(), pacer.rate):
        stored = reader.get(batch)
        report.clients += len(batch)
        for item in batch:
            clientid = int(item[layout.KEY]["N"])
            if clientid not in stored:
                report.differences.append(Difference(table, clientid, MISSING))
                continue
            for path, want, got in item_differences(item, stored[clientid]):
                report.differences.append(Difference(table, clientid, WRONG, path, want, got))
    if sample is None:
        # A Scan reads whole items whatever it projects: pages sized to the pace.
        average = item_bytes / max(1, report.clients)
        page = max(1, min(SCAN_PAGE_ITEMS, int(pacer.rate / read_units(int(average)))))
        extras = [
            clientid
            for clientid in reader.stored_clientids(page)
            if not _contains(snapshot_ids, clientid)
        ]
        report.differences += [Difference(table, c, EXTRA) for c in sorted(extras)]
    report.differences.sort(key=lambda d: d.clientid)
    found = len(report.differences)
    log.info("%s: verified %d clients, %d differences", table, report.clients, found)
    return report


def _contains(ids: array[int], clientid: int) -> bool:
    at = bisect_left(ids, clientid)
    return at < len(ids) and ids[at] == clientid

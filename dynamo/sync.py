"""The sync of one table: plan clientid ranges, extract them in parallel, shape, load.

    warehouse view --(ranges, several statements in flight)--> rows
        --(dynamo.shape)--> items --(dynamo.load.ItemWriter)--> DynamoDB

A client whose item DynamoDB cannot store (over 400 KB, a figure a Number cannot
hold, a row the layout refuses) is left out and reported in ``result.rejected``
with the reason; the rest of the run, its batch included, is written.

Memory holds one page per reader and a bounded queue of batches, whatever the
number of clients: the only thing that grows with the run is the sorted array of
clientids written, which the result reports.

Three steps, each below: :func:`read_plan` (one statement: the clientid ranges),
:class:`RangeReader` (one range: rows -> items, handed to the writer) and
:func:`write_ranges` (the readers in parallel, feeding one writer).

Example::

    result = sync_table(CLIENTS_INFO, settings, source=source, client=client, entries=10)
    result.clientids[:3]        # [1, 4, 7]
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Optional

from dynamo import shape
from dynamo.config import Settings
from dynamo.errors import ExtractError, WriteError
from dynamo.extract import Row, Source
from dynamo.load import ItemWriter, advice
from dynamo.pacing import WritePacer
from dynamo.shape import Rejected, Shaped
from dynamo.views import sync_query

log = logging.getLogger(__name__)

#: ``entries=0`` means every client; the plan then has no upper limit.
_NO_LIMIT = 2**63 - 1


class Progress:
    """What a sync reports as it goes; override what you need (the CLI draws a bar).

    Methods are called from the sync's reader and writer threads.
    """

    def planned(self, clients: int) -> None:
        """The number of clients this sync will write, once known."""

    def rows(self, count: int) -> None:
        """``count`` more warehouse rows were read."""

    def written(self, table: str, count: int) -> None:
        """``count`` more items were written to ``table``."""


@dataclass(frozen=True)
class TableKind:
    """One of the two syncs: which view it reads, how rows become items, which table."""

    #: The default name of its DynamoDB table.
    name: str
    view: str
    #: The columns of the rows ``to_items`` takes, in order (``range_query`` selects them).
    columns: tuple[str, ...]
    #: ``to_items(rows, run=run_id)``: an item, or a :class:`Rejected` client, per client.
    to_items: Callable[..., Iterator[Shaped]]

    @property
    def range_query(self) -> str:
        """The statement of ``sql/sync_queries.sql`` that reads one clientid range of ``view``."""
        return f"range_{self.view}"

    @property
    def table_setting(self) -> str:
        """The :class:`Settings` field that names its table."""
        return f"{self.name}_table"


CLIENTS_INFO = TableKind(
    "clients_info", "clients_info", shape.CLIENTS_INFO_COLUMNS, shape.shaped_client_items
)
CLIENTS_INFO_BY_YEAR = TableKind(
    "clients_info_by_year", "clients_info_by_month", shape.BY_MONTH_COLUMNS, shape.client_year_items
)
KINDS = {kind.name: kind for kind in (CLIENTS_INFO, CLIENTS_INFO_BY_YEAR)}


def new_run_id(now: Optional[float] = None) -> str:
    """The id of a sync run: its UTC start to the second, and 6 random hex digits.

    >>> new_run_id(0.0)[:21]
    '1970-01-01T00:00:00Z-'
    """
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if now is None else now))
    return f"{started}-{secrets.token_hex(3)}"


@dataclass
class SyncResult:
    """What one sync wrote. ``clientids`` is sorted; ``rejected`` lists the clients
    whose item could not be stored, with the reason, by clientid."""

    table: str
    clientids: list[int]
    items: int
    rows: int
    seconds: float
    retries: int
    statements: int
    entries: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    run: str = ""
    rejected: list[Rejected] = field(default_factory=list)
    #: Write units the table consumed (DynamoDB's figure; see :mod:`dynamo.load`).
    write_units: int = 0

    @property
    def items_per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> dict[str, Any]:
        """Everything but the clientids, for logs and ``--json``."""
        return {
            "table": self.table,
            "items": self.items,
            "write_units": self.write_units,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "items_per_second": round(self.items_per_second, 1),
            "retries": self.retries,
            "statements": self.statements,
            "entries": self.entries,
            "run": self.run,
            "rejected": [
                {"clientid": _plain(r.clientid), "reason": r.reason} for r in self.rejected
            ],
            **{k: v for k, v in self.stats.items() if k not in ("items", "write_units")},
        }


def _by_clientid(rejected: Rejected) -> tuple[bool, int, str]:
    clientid = rejected.clientid
    number = isinstance(clientid, int)
    return (not number, clientid if number else 0, str(clientid))


def _plain(clientid: Any) -> Any:
    # A clientid as the source gave it, for JSON: an int, None, or its text.
    return clientid if clientid is None or isinstance(clientid, int) else str(clientid)


def check_entries(entries: object) -> int:
    """``entries`` as given to ``Insert``: an int >= 0 (0 means every client)."""
    if isinstance(entries, bool) or not isinstance(entries, int):
        raise TypeError(f"entries must be an int, not {type(entries).__name__}")
    if entries < 0:
        raise ValueError(f"entries must be 0 (every client) or more, not {entries}")
    return entries


#: Why the views leave a source row out, in the order ``sql/create_views.sql`` checks
#: them: the columns of ``source_rejects``, and the keys of ``Insert.source_rejects()``.
REJECT_REASONS: tuple[str, ...] = (
    "unknown_type",
    "ambiguous_type",
    "other_nature",
    "null_clientid",
    "negative_clientid",
    "null_amount",
    "null_time",
    "time_out_of_range",
)

#: The views keep clientids 0 .. 2**63-1 (``source_rejects``: ``negative_clientid``),
#: so the first range starts just below 0 and the ranges cover every stored client.
LOWEST_CLIENTID = 0


def setup_sql(settings: Settings) -> list[str]:
    """The statements that create the sync's schema and tables (``create-views`` runs them).

    This and the ones below are statements of ``sql/sync_queries.sql``.
    """
    names = ["create_sync_schema", *(f"create_{kind.view}" for kind in KINDS.values())]
    return [_query(name, settings) for name in names]


def snapshot_sql(kind: TableKind, settings: Settings) -> list[str]:
    """One transaction that replaces the sync's copy of ``kind``'s view: the only
    statement of a run that reads the view (and so the transactions)."""
    return [_query(f"clear_{kind.view}", settings), _query(f"snapshot_{kind.view}", settings)]


def plan_sql(kind: TableKind, settings: Settings) -> str:
    """Upper bounds of consecutive clientid ranges of ``:chunk`` clients, up to ``:limit``."""
    return _query(f"plan_{kind.view}", settings)


def range_sql(kind: TableKind, settings: Settings) -> str:
    """The rows of the clients with ``:low < clientid <= :high``, ordered for shaping."""
    return _query(kind.range_query, settings)


def rejects_sql(settings: Settings) -> str:
    """The counts of source rows that the views leave out, by reason."""
    return _query("rejects", settings)


def _query(name: str, settings: Settings) -> str:
    return sync_query(name, settings.views_schema, settings.sync_schema)


def take_snapshot(source: Source, kind: TableKind, settings: Settings) -> None:
    """Copy ``kind``'s view into the sync's table (see ``sql/sync_queries.sql``)."""
    try:
        source.execute_script(snapshot_sql(kind, settings))
    except ExtractError as error:
        if "does not exist" not in str(error):
            raise
        raise ExtractError(
            f"{error}; run `contabyx-etl create-views`: it creates the sync's tables "
            f"in SYNC_SCHEMA ({settings.sync_schema})"
        ) from error


def plan_ranges(bounds: list[int]) -> list[tuple[int, int]]:
    """``(low, high]`` ranges from sorted upper bounds: ``[3, 9] -> [(-1, 3), (3, 9)]``."""
    ranges, low = [], LOWEST_CLIENTID - 1
    for high in bounds:
        ranges.append((low, high))
        low = high
    return ranges


@dataclass(frozen=True)
class Plan:
    """The clientid ranges of a run, ``(low, high]`` each, and the clients they hold."""

    ranges: list[tuple[int, int]]
    clients: int

    @property
    def statements(self) -> int:
        """The statements the run sends: the snapshot, the plan and one per range."""
        return len(self.ranges) + 2


def read_plan(source: Source, kind: TableKind, settings: Settings, entries: int) -> Plan:
    """Plan a run of ``entries`` clients (0: every client) with one statement."""
    bounds = [
        (int(clientid), int(rank))
        for clientid, rank in source.rows(
            plan_sql(kind, settings),
            {"limit": entries or _NO_LIMIT, "chunk": settings.chunk_clients},
        )
    ]
    # The last bound is the last client planned: its rank is the number of clients.
    clients = bounds[-1][1] if bounds else 0
    return Plan(ranges=plan_ranges([clientid for clientid, _ in bounds]), clients=clients)


class _Counted:
    """The rows of an iterator, counted as they are taken."""

    def __init__(self, rows: Iterator[Row]) -> None:
        self._rows = rows
        self.count = 0

    def __iter__(self) -> Iterator[Row]:
        return self

    def __next__(self) -> Row:
        row = next(self._rows)
        self.count += 1
        return row


class RangeReader:
    """Reads clientid ranges of one view and hands each client's item to the writer.

    :meth:`read` runs in several threads at once: the row count and the rejected
    clients are kept under a lock. Setting :attr:`stop` ends every read early and
    cancels the statements in flight.
    """

    def __init__(
        self,
        kind: TableKind,
        *,
        source: Source,
        writer: ItemWriter,
        table: str,
        sql: str,
        run: str,
        progress: Progress,
    ) -> None:
        self.kind, self.table, self.run = kind, table, run
        self.stop = threading.Event()
        self.rows = 0
        self.rejected: list[Rejected] = []
        self._source, self._writer, self._progress = source, writer, progress
        self._sql = sql
        self._lock = threading.Lock()

    def read(self, low: int, high: int) -> None:
        """Read the clients with ``low < clientid <= high``."""
        rows = self._source.rows(self._sql, {"low": low, "high": high}, cancel=self.stop)
        counted = _Counted(iter(rows))
        try:
            self._hand_over(self.kind.to_items(counted, run=self.run))
        finally:
            # A range left early (stop, a failure) closes its statement now.
            close = getattr(rows, "close", None)
            if close is not None:
                close()
            with self._lock:
                self.rows += counted.count
            self._progress.rows(counted.count)

    def _hand_over(self, shaped_items: Iterator[Shaped]) -> None:
        for shaped in shaped_items:
            if self.stop.is_set():
                return
            if isinstance(shaped, Rejected):
                log.warning("%s: client %s not written: %s", self.table, *shaped)
                with self._lock:
                    self.rejected.append(shaped)
            else:
                self._writer.put(self.table, shaped)


def write_ranges(reader: RangeReader, writer: ItemWriter, plan: Plan, *, readers: int) -> None:
    """Read every range of ``plan``, ``readers`` at a time, into ``writer``; flush it.

    A failed write raises a :class:`WriteError` that says how far the run got.
    """
    try:
        # The writer closes last: it flushes what every reader handed over.
        with writer:
            _read_ranges(reader, plan.ranges, readers)
    except WriteError as error:
        written = len(writer.stats.clientids.get(reader.table, []))
        raise WriteError(
            f"{reader.table}: the run stopped after writing {written} of {plan.clients} "
            f"clients; {advice(error.__cause__)}: {error}",
            error.not_written,
        ) from error.__cause__


def _read_ranges(reader: RangeReader, ranges: list[tuple[int, int]], readers: int) -> None:
    with ThreadPoolExecutor(readers, thread_name_prefix="sync-reader") as pool:
        futures: list[Future[None]] = [pool.submit(reader.read, low, high) for low, high in ranges]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        failed = next((f for f in done if f.exception() is not None), None)
        if failed is None:
            return
        # Stop the other readers now: their statements are cancelled, not awaited.
        reader.stop.set()
        for future in futures:
            future.cancel()
        error = failed.exception()
        assert error is not None
        raise error


def sync_table(
    kind: TableKind,
    settings: Settings,
    *,
    source: Source,
    client: Any,
    entries: int = 0,
    progress: Optional[Progress] = None,
    run: Optional[str] = None,
    pacer: Optional[WritePacer] = None,
) -> SyncResult:
    """Write every client (or the ``entries`` lowest clientids) of ``kind`` to its table.

    Items carry ``run`` (a new run id when None) as the id of the run that wrote them.
    ``pacer`` caps the write units sent (a run shares one across its tables).
    """
    entries = check_entries(entries)
    progress = progress or Progress()
    run = run or new_run_id()
    table = getattr(settings, kind.table_setting)
    started = time.monotonic()

    take_snapshot(source, kind, settings)
    plan = read_plan(source, kind, settings, entries)
    progress.planned(plan.clients)
    log.info(
        "%s: run %s, %d clientid ranges of up to %d clients",
        table,
        run,
        len(plan.ranges),
        settings.chunk_clients,
    )
    writer = ItemWriter(
        client,
        workers=settings.workers,
        max_retries=settings.max_retries,
        on_written=progress.written,
        pacer=pacer,
    )
    reader = RangeReader(
        kind,
        source=source,
        writer=writer,
        table=table,
        sql=range_sql(kind, settings),
        run=run,
        progress=progress,
    )
    write_ranges(reader, writer, plan, readers=settings.readers)
    return _result(reader, writer, plan, entries=entries, seconds=time.monotonic() - started)


def _result(
    reader: RangeReader, writer: ItemWriter, plan: Plan, *, entries: int, seconds: float
) -> SyncResult:
    table = reader.table
    rejected = reader.rejected + [Rejected(*r) for r in writer.stats.rejected.get(table, [])]
    ids = sorted(writer.stats.clientids.get(table, []))
    return SyncResult(
        table=table,
        clientids=ids,
        items=len(ids),
        rows=reader.rows,
        seconds=seconds,
        retries=writer.stats.retries,
        statements=plan.statements,
        entries=entries,
        stats=writer.stats.as_dict(),
        run=reader.run,
        rejected=sorted(rejected, key=_by_clientid),
        write_units=writer.stats.write_units.get(table, 0),
    )

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
from dynamo.errors import ExtractError, PruneRefused, WriteError
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
    #: ``full`` (every client written) or ``incremental`` (only the changed ones).
    mode: str = "full"
    #: Items deleted (an incremental run's clients that no longer have a figure).
    deleted: int = 0
    #: Clients of the source whose item was already right, so not written.
    unchanged: int = 0
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
            "mode": self.mode,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "rejected": [
                {"clientid": _plain(r.clientid), "reason": r.reason} for r in self.rejected
            ],
            **{k: v for k, v in self.stats.items() if k not in ("items", "deleted", "write_units")},
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


def snapshot_sql(kind: TableKind, settings: Settings, mode: str = "full") -> list[str]:
    """One transaction that replaces the sync's copy of ``kind``'s view (the only
    statement of a run that reads the view, and so the transactions), then marks the
    clients the run writes or deletes: every one (``full``), or those whose rows differ
    from what the last complete run wrote (``incremental``)."""
    marks = "changes" if mode == "incremental" else "everything"
    names = ("clear", "snapshot", "clear_changed", marks)
    return [_query(f"{name}_{kind.view}", settings) for name in names]


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


def take_snapshot(source: Source, kind: TableKind, settings: Settings, mode: str = "full") -> None:
    """Copy ``kind``'s view into the sync's table and mark the clients to write
    (:func:`snapshot_sql`)."""
    try:
        source.execute_script(snapshot_sql(kind, settings, mode))
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
    mode: str = "full",
    allow_mass_delete: bool = False,
    before_advance: Optional[Callable[[], None]] = None,
    pacer: Optional[WritePacer] = None,
) -> SyncResult:
    """Write every client (or the ``entries`` lowest clientids) of ``kind`` to its table;
    ``mode="incremental"``: only the clients whose figures changed since the last
    complete run, and delete those that have none left.

    Items carry ``run`` (a new run id when None) as the id of the run that wrote them.
    A complete run (no ``entries``) then records what it wrote, the state the next
    incremental run compares with; ``before_advance`` is called before that and before
    any deletion (the CLI's lease check: a run that lost its lease changes no state).
    ``pacer`` caps the write units sent (a run shares one across its tables).
    """
    entries = check_entries(entries)
    check_mode(mode, entries)
    progress = progress or Progress()
    run = run or new_run_id()
    table = getattr(settings, kind.table_setting)
    started = time.monotonic()

    take_snapshot(source, kind, settings, mode)
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
    result = _result(reader, writer, plan, entries=entries, seconds=time.monotonic() - started)
    result.mode = mode
    if entries == 0:
        finish(
            source,
            client,
            kind,
            settings,
            result,
            allow_mass_delete=allow_mass_delete,
            before_advance=before_advance,
            pacer=pacer,
        )
        result.seconds = time.monotonic() - started
    return result


#: How a run chooses the clients it writes.
MODES = ("full", "incremental")


def check_mode(mode: str, entries: int) -> None:
    """``mode`` is one of :data:`MODES`; an incremental run is of every client."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "incremental" and entries:
        raise ValueError(
            "an incremental run writes what changed among every client: it cannot go with "
            "entries (a sample run of the lowest clientids is a full run)"
        )


def finish(
    source: Source,
    client: Any,
    kind: TableKind,
    settings: Settings,
    result: SyncResult,
    *,
    allow_mass_delete: bool = False,
    before_advance: Optional[Callable[[], None]] = None,
    pacer: Optional[WritePacer] = None,
) -> None:
    """After every item is written: delete the clients gone (incremental), count the
    unchanged ones, and record the copy as what was written (:func:`advance`)."""
    (copied, done), *_ = source.rows(_query(f"count_{kind.view}", settings))
    # A run that lost its lease deletes nothing and records nothing: the holder may
    # already have written a client this run's older copy calls gone.
    if before_advance is not None:
        before_advance()
    if result.mode == "incremental":
        gone = [int(clientid) for (clientid,) in source.rows(_query(f"gone_{kind.view}", settings))]
        check_deletion(
            result.table,
            gone,
            copied=int(copied),
            stored=int(done),
            allow_mass_delete=allow_mass_delete,
            max_share=settings.prune_max_share,
        )
        result.deleted, units = delete_items(client, result.table, gone, settings, pacer)
        result.write_units += units
    result.unchanged = int(copied) - result.items - len(result.rejected)
    advance(source, kind, settings, [r.clientid for r in result.rejected])


def check_deletion(
    table: str,
    gone: list[int],
    *,
    copied: int,
    stored: int,
    allow_mass_delete: bool,
    max_share: float,
) -> None:
    """Refuse, as ``--prune`` does, a deletion that looks like a bad read: every client
    gone, or more than ``max_share`` of them, unless ``allow_mass_delete``.

    >>> check_deletion("t", [1], copied=99, stored=100, allow_mass_delete=False, max_share=0.05)
    """
    if not gone or allow_mass_delete:
        return
    would = f"it would delete {len(gone)} of the {stored} clients the last complete run wrote"
    confirm = "check the source; if the deletion is meant, confirm with --allow-mass-delete"
    if copied == 0:
        raise PruneRefused(
            f"not deleting from {table}: the source has no clients and {would}; {confirm}"
        )
    if len(gone) > max_share * stored:
        raise PruneRefused(
            f"not deleting from {table}: {would} ({len(gone) / stored:.0%}), more than "
            f"PRUNE_MAX_SHARE ({max_share:.0%}); the source may be half-reloaded: {confirm}"
        )


def delete_items(
    client: Any,
    table: str,
    clientids: list[int],
    settings: Settings,
    pacer: Optional[WritePacer] = None,
) -> tuple[int, int]:
    """Delete the items of ``clientids`` from ``table``: how many, and the write units."""
    if not clientids:
        return 0, 0
    writer = ItemWriter(
        client, workers=settings.workers, max_retries=settings.max_retries, pacer=pacer
    )
    with writer:
        for clientid in clientids:
            writer.delete(table, clientid)
    return writer.stats.deleted.get(table, 0), writer.stats.write_units.get(table, 0)


def advance(source: Source, kind: TableKind, settings: Settings, rejected: list[Any]) -> None:
    """Record the copy as what the run wrote: the state the next incremental run compares
    with. A client the run could not store is left out of it, so that the next run
    tries it again."""
    for clientid in rejected:
        if isinstance(clientid, int):
            list(source.rows(_query(f"forget_{kind.view}", settings), {"clientid": clientid}))
    source.execute_script(
        [_query(f"clear_done_{kind.view}", settings), _query(f"promote_{kind.view}", settings)]
    )


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

"""The public API of the sync, as the original design named it.

Example::

    from dynamo.query import Insert

    Insert().clients_info(entries=10).clientids         # -> table clients_info
    # [1, 4, 7, 12, 15, 16, 21, 30, 31, 33]
    Insert().clients_info_by_month(entries=10)          # -> table clients_info_by_year
    Insert(workers=16, source="direct").clients_info()  # every client, other settings

``entries=0`` (the default) means every client; ``entries=N`` the N clients with
the lowest clientids, each written whole. Settings are validated when ``Insert``
is made and ``entries`` when a method is called, both before any I/O.

One ``Insert`` is one run: every item it writes, in both tables, carries its
``run`` id (``layout.RUN``), so a reader can tell two runs apart.

The bare methods take no lease and leave no run record: a library user's
``Insert().clients_info(entries=10)`` needs only the two tables. ``contabyx-etl run``
wraps its work in :meth:`Insert.exclusive`, which takes the sync's lease (one run at
a time, on any machine) and records the run in ``SYNC_TABLE``; a library caller that
runs the nightly sync itself should do the same::

    with Insert() as insert, insert.exclusive() as run:
        results = [insert.clients_info(), insert.clients_info_by_month()]
        run.counts({r.table: r.summary() for r in results})
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Optional

from dynamo import sync
from dynamo.aws import dynamodb_client
from dynamo.config import Settings, load_settings
from dynamo.extract import Source, open_source
from dynamo.pacing import WritePacer
from dynamo.sync import Progress, SyncResult

log = logging.getLogger(__name__)


class Insert:
    """Sync the warehouse views into the two DynamoDB tables.

    ``Insert(**settings)`` overrides any configuration value (``clients_info_table``,
    ``region``, ``source``, ``workers``, ...); see :class:`dynamo.config.Settings`.
    Every failure it reports on purpose is a :class:`dynamo.errors.SyncError` whose
    message is one line saying what will fix it::

        try:
            Insert().clients_info(entries=10)
        except SyncError as error:
            print(error)
    """

    def __init__(self, **settings: Any) -> None:
        self.settings: Settings = load_settings(settings)
        self._source: Optional[Source] = None
        self._client: Any = None
        self._runs_client: Any = None
        #: The sync's lease while :meth:`exclusive` holds it; None otherwise.
        self.lease: Optional[Any] = None
        #: The id of this run, written into every item (``YYYY-MM-DDTHH:MM:SSZ-xxxxxx``).
        self.run: str = sync.new_run_id()
        #: Caps the write units of every table and prune of this run (MAX_WRITE_UNITS).
        self.pacer: Optional[WritePacer] = (
            WritePacer(self.settings.max_write_units) if self.settings.max_write_units else None
        )

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"Insert(source={s.source!r}, database={s.database!r}, "
            f"tables=({s.clients_info_table!r}, {s.clients_info_by_year_table!r}), "
            f"workers={s.workers})"
        )

    # -- the two syncs --------------------------------------------------------

    def clients_info(
        self,
        entries: int = 0,
        *,
        progress: Optional[Progress] = None,
        incremental: bool = False,
        allow_mass_delete: bool = False,
    ) -> SyncResult:
        """Write one item per client to the ``clients_info`` table.

        ``incremental=True`` writes only the clients whose figures changed since the
        last complete run and deletes those left with none (refused, as ``--prune``
        is, when it would delete more than ``PRUNE_MAX_SHARE`` of them, unless
        ``allow_mass_delete``).
        """
        return self._run(sync.CLIENTS_INFO, entries, progress, incremental, allow_mass_delete)

    def clients_info_by_month(
        self,
        entries: int = 0,
        *,
        progress: Optional[Progress] = None,
        incremental: bool = False,
        allow_mass_delete: bool = False,
    ) -> SyncResult:
        """Write one item per client, holding every year and month, to
        ``clients_info_by_year``; ``incremental`` as for :meth:`clients_info`."""
        return self._run(
            sync.CLIENTS_INFO_BY_YEAR, entries, progress, incremental, allow_mass_delete
        )

    def source_rejects(self) -> dict[str, int]:
        """Source rows the views leave out, by reason (``contabyx.source_rejects``).

        Every reason of :data:`dynamo.sync.REJECT_REASONS` is a key; ``sql/create_views.sql``
        says what each one means. Each rejected row counts under one reason only.
        """
        sql = sync.rejects_sql(self.settings)
        row = next(iter(self.source.rows(sql)), None)
        values = tuple(row) if row is not None else ()
        return {
            name: int(values[i] or 0) if i < len(values) else 0
            for i, name in enumerate(sync.REJECT_REASONS)
        }

    def prune(self, result: SyncResult, *, allow_mass_delete: bool = False) -> int:
        """Delete the items of clients that ``result``, a complete sync, did not write.

        Refuses (``PruneRefused``) a result limited by ``entries``, a source that
        returned no clients, or a deletion of more than ``PRUNE_MAX_SHARE`` of the
        stored clients unless ``allow_mass_delete``. A failed sync raised instead
        of returning a result, so it can never be pruned after.
        """
        return self.prune_all([result], allow_mass_delete=allow_mass_delete)[result.table]

    def prune_all(
        self, results: Sequence[SyncResult], *, allow_mass_delete: bool = False
    ) -> dict[str, int]:
        """:meth:`prune` each result's table, checking every table before deleting in any."""
        from dynamo.prune import prune_all

        self.check_lease()
        pruned = prune_all(
            self.client,
            results,
            workers=self.settings.workers,
            max_retries=self.settings.max_retries,
            max_share=self.settings.prune_max_share,
            allow_mass_delete=allow_mass_delete,
            pacer=self.pacer,
        )
        for table, deleted in pruned.items():
            log.info("pruned %d stale items from %s", deleted, table)
        return pruned

    @contextmanager
    def exclusive(self, mode: str = "full") -> Iterator[Any]:
        """Hold the sync's lease and record this run in ``SYNC_TABLE`` while inside.

        Raises :class:`dynamo.errors.RunInProgress` naming the run that holds the lease.
        Yields the :class:`dynamo.runs.RunRecord`; give it the per-table counts
        (``record.counts(...)``) and, for a run that stored not every client,
        ``record.outcome = "rejected"``. An exception inside is recorded as ``failed``;
        the lease is released either way. With ``METRICS_NAMESPACE`` set, the run's
        metrics go to CloudWatch at its end (:mod:`dynamo.metrics`). :meth:`prune_all`
        checks the lease first.
        """
        from dynamo.metrics import MetricsPublisher
        from dynamo.runs import exclusive_run

        with exclusive_run(
            self.runs_client,
            self.settings.sync_table,
            self.run,
            mode=mode,
            metrics=MetricsPublisher.from_settings(self.settings),
        ) as (lease, record):
            self.lease = lease
            try:
                yield record
            finally:
                self.lease = None

    def check_lease(self) -> None:
        """Raise :class:`dynamo.errors.LeaseLost` if this run held the lease and lost it.

        Call it before advancing any state; without :meth:`exclusive` it does nothing.
        """
        if self.lease is not None:
            self.lease.check()

    @property
    def runs_client(self) -> Any:
        """The DynamoDB client of the lease and the run records (botocore's retries)."""
        if self._runs_client is None:
            self._runs_client = dynamodb_client(
                region=self.settings.aws_region,
                endpoint_url=self.settings.aws_endpoint_url_dynamodb,
                pool=2,
                retries=True,
                connect_timeout=self.settings.aws_connect_timeout,
                read_timeout=self.settings.aws_read_timeout,
            )
        return self._runs_client

    def close(self) -> None:
        """Release the warehouse connections (the direct source holds some)."""
        if self._source is not None:
            self._source.close()
            self._source = None

    def __enter__(self) -> Insert:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- shared parts ---------------------------------------------------------

    @property
    def source(self) -> Source:
        """The warehouse source, opened on first use."""
        if self._source is None:
            self.settings.check_source()
            self._source = open_source(self.settings)
        return self._source

    @property
    def client(self) -> Any:
        """The low-level DynamoDB client, made on first use and reused."""
        if self._client is None:
            self._client = dynamodb_client(
                region=self.settings.aws_region,
                endpoint_url=self.settings.aws_endpoint_url_dynamodb,
                pool=self.settings.workers + 2,
                connect_timeout=self.settings.aws_connect_timeout,
                read_timeout=self.settings.aws_read_timeout,
            )
        return self._client

    def _run(
        self,
        kind: sync.TableKind,
        entries: int,
        progress: Optional[Progress],
        incremental: bool,
        allow_mass_delete: bool,
    ) -> SyncResult:
        sync.check_entries(entries)
        mode = "incremental" if incremental else "full"
        sync.check_mode(mode, entries)
        result = sync.sync_table(
            kind,
            self.settings,
            source=self.source,
            client=self.client,
            entries=entries,
            progress=progress,
            run=self.run,
            mode=mode,
            allow_mass_delete=allow_mass_delete,
            before_advance=self.check_lease,
            pacer=self.pacer,
        )
        log.info(
            "synced %d items to %s in %.1f s (%d retries, %d clients rejected)",
            result.items,
            result.table,
            result.seconds,
            result.retries,
            len(result.rejected),
        )
        return result

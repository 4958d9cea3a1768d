"""Prune: delete the items of clients that are no longer in the source.

Deletion is never the result of a bad read. Only a complete, successful sync of
every client knows which clients exist, so pruning takes its
:class:`~dynamo.sync.SyncResult` and refuses any other; and since a warehouse
being reloaded reads as empty or half-empty, it also refuses when the source
returned no clients at all, or when it would delete more than ``max_share`` of
the stored clients, unless ``allow_mass_delete`` confirms it. Every table is
checked before any is pruned.

Example (items whose clientid the sync did not write are deleted)::

    results = [insert.clients_info(), insert.clients_info_by_month()]
    prune_all(client, results, workers=8)   # {'clients_info': 3, 'clients_info_by_year': 3}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from contabyx import layout
from dynamo.config import Settings
from dynamo.errors import PruneRefused as PruneRefused  # its home before dynamo.errors
from dynamo.load import ItemWriter, call_with_retries
from dynamo.pacing import WritePacer
from dynamo.sync import SyncResult

#: The largest share of the stored clients a prune deletes without confirmation.
MAX_SHARE: float = Settings.prune_max_share


@dataclass(frozen=True)
class PrunePlan:
    """The clients of ``table`` that a prune would delete, out of ``stored``."""

    table: str
    stale: list[int]
    stored: int


def stored_clientids(
    client: Any, table: str, *, max_retries: int = 20, page_size: Optional[int] = None
) -> list[int]:
    """Every clientid stored in ``table`` (a consistent Scan of the key only).

    Each page is retried like a batch of writes (throttling, 5xx, dropped
    connections), so that one throttled page does not abort the prune.
    """
    ids: list[int] = []
    request: dict[str, Any] = {
        "TableName": table,
        "ProjectionExpression": "#k",
        "ExpressionAttributeNames": {"#k": layout.KEY},
        "ConsistentRead": True,
    }
    if page_size is not None:
        request["Limit"] = page_size
    # Not botocore's scan paginator: a page that fails ends its iterator, and it gives
    # a token to resume from (resume_token) only when MaxItems cuts the scan short,
    # re-reading the page it cut. Resuming from LastEvaluatedKey retries the failed
    # page alone.
    while True:
        page = call_with_retries(
            lambda: client.scan(**request), what=f"a Scan page of {table}", max_retries=max_retries
        )
        ids.extend(int(item[layout.KEY]["N"]) for item in page["Items"])
        if "LastEvaluatedKey" not in page:
            return ids
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def plan_prune(
    client: Any,
    result: SyncResult,
    *,
    max_retries: int = 20,
    max_share: float = MAX_SHARE,
    allow_mass_delete: bool = False,
) -> PrunePlan:
    """What pruning ``result.table`` would delete; raises :class:`PruneRefused` if unsafe."""
    table = result.table
    if result.entries != 0:
        raise PruneRefused(f"not pruning {table}: the sync was limited to {result.entries} clients")
    if result.mode != "full":
        # An incremental run wrote the changed clients only: the others are not stale.
        raise PruneRefused(
            f"not pruning {table}: an incremental run deletes the clients it finds gone "
            "itself; --prune needs a full run"
        )
    stored = stored_clientids(client, table, max_retries=max_retries)
    written = set(result.clientids)
    # A rejected client is still in the source: its old item is not stale.
    kept = written | {r.clientid for r in result.rejected}
    plan = PrunePlan(table, sorted(set(stored) - kept), len(stored))
    if plan.stale and not allow_mass_delete:
        would = f"it would delete {len(plan.stale)} of the {plan.stored} stored clients"
        confirm = "check the source; if the deletion is meant, confirm with --allow-mass-delete"
        if not written:
            raise PruneRefused(
                f"not pruning {table}: the source returned no clients and {would}; {confirm}"
            )
        if len(plan.stale) > max_share * plan.stored:
            raise PruneRefused(
                f"not pruning {table}: {would} ({len(plan.stale) / plan.stored:.0%}), more than "
                f"PRUNE_MAX_SHARE ({max_share:.0%}); the source may be half-reloaded: {confirm}"
            )
    return plan


def prune_all(
    client: Any,
    results: Sequence[SyncResult],
    *,
    workers: int = 8,
    max_retries: int = 20,
    max_share: float = MAX_SHARE,
    allow_mass_delete: bool = False,
    pacer: Optional[WritePacer] = None,
) -> dict[str, int]:
    """Delete from each table the clients its sync did not write; how many, by table.

    Every table is planned and checked first: a refusal deletes nothing anywhere.
    """
    plans = [
        plan_prune(
            client,
            result,
            max_retries=max_retries,
            max_share=max_share,
            allow_mass_delete=allow_mass_delete,
        )
        for result in results
    ]
    with ItemWriter(client, workers=workers, max_retries=max_retries, pacer=pacer) as writer:
        for plan in plans:
            for clientid in plan.stale:
                writer.delete(plan.table, clientid)
    return {plan.table: writer.stats.deleted.get(plan.table, 0) for plan in plans}


def prune(
    client: Any,
    result: SyncResult,
    *,
    workers: int = 8,
    max_retries: int = 20,
    max_share: float = MAX_SHARE,
    allow_mass_delete: bool = False,
) -> int:
    """Delete from ``result.table`` the clients the sync did not write; returns how many."""
    pruned = prune_all(
        client,
        [result],
        workers=workers,
        max_retries=max_retries,
        max_share=max_share,
        allow_mass_delete=allow_mass_delete,
    )
    return pruned[result.table]

"""Prune: delete the items of clients that are no longer in the source.

Only a complete, successful sync of every client knows which clients exist, so
pruning takes its :class:`~dynamo.sync.SyncResult` and refuses any other.

>>> result = insert.clients_info()
>>> prune(client, result, workers=8)      # deletes items whose clientid was not written
3
"""

from __future__ import annotations

from typing import Any

from contabyx import layout
from dynamo.load import ItemWriter
from dynamo.sync import SyncResult


class PruneRefused(RuntimeError):
    """The sync result does not prove which clients exist (limited by entries)."""


def stored_clientids(client: Any, table: str) -> list[int]:
    """Every clientid stored in ``table`` (a Scan of the key only)."""
    ids: list[int] = []
    for page in client.get_paginator("scan").paginate(
        TableName=table,
        ProjectionExpression="#k",
        ExpressionAttributeNames={"#k": layout.KEY},
        ConsistentRead=True,
    ):
        ids.extend(int(item[layout.KEY]["N"]) for item in page["Items"])
    return ids


def prune(client: Any, result: SyncResult, *, workers: int = 8, max_retries: int = 20) -> int:
    """Delete from ``result.table`` the clients the sync did not write; returns how many."""
    if result.entries != 0:
        raise PruneRefused(
            f"not pruning {result.table}: the sync was limited to {result.entries} clients"
        )
    written = set(result.clientids)
    stale = sorted(set(stored_clientids(client, result.table)) - written)
    with ItemWriter(client, workers=workers, max_retries=max_retries) as writer:
        for clientid in stale:
            writer.delete(result.table, clientid)
    return len(stale)

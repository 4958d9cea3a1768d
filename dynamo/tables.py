"""The two DynamoDB tables: partition key ``clientid`` (Number), on-demand capacity;
and the sync's own table (``SYNC_TABLE``: its lease and run records, :mod:`dynamo.runs`),
partition key ``pk`` and sort key ``sk`` (both String), on-demand.

Example::

    create_tables()    # ['clients_info', 'clients_info_by_year'], once both are ACTIVE
    create_tables(sync_table="contabyx_sync")  # the three of them
"""

from __future__ import annotations

import contextlib
from typing import Any, Optional

from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from contabyx import layout
from dynamo.aws import ADMIN_ATTEMPTS, dynamodb_client
from dynamo.errors import TableError as TableError  # its home before dynamo.errors


def create_tables(
    client: Optional[Any] = None,
    clients_info: str = layout.CLIENTS_INFO_TABLE,
    clients_info_by_year: str = layout.CLIENTS_INFO_BY_YEAR_TABLE,
    *,
    sync_table: Optional[str] = None,
    wait: bool = True,
) -> list[str]:
    """Create both tables (and ``sync_table`` if named) unless they exist; wait until
    ACTIVE. Returns their names.

    An endpoint that cannot be reached or does not answer (each call gives up after
    the client's attempts and timeouts) is a TableError saying what to check.
    """
    client = client or dynamodb_client(retries=True)
    names = [clients_info, clients_info_by_year]
    every = [*names, sync_table] if sync_table else names
    try:
        for name in names:
            _create(client, name)
        if sync_table:
            _create(client, sync_table, key=_SYNC_KEY)
        if wait:
            waiter = client.get_waiter("table_exists")
            for name in every:
                waiter.wait(TableName=name, WaiterConfig=_WAIT)
        for name in names:
            _check_key(client, name)
        if sync_table:
            _check_key(client, sync_table, key=_SYNC_KEY)
    except (BotoConnectionError, HTTPClientError) as exc:  # timeouts, refused, reset
        raise TableError(
            f"DynamoDB did not answer ({exc}) after {ADMIN_ATTEMPTS} attempts: check "
            "AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION and the network (AWS_CONNECT_TIMEOUT and "
            "AWS_READ_TIMEOUT bound each attempt), then re-run"
        ) from exc
    return every


#: A new on-demand table is ACTIVE within seconds; two minutes of polling is plenty.
_WAIT = {"Delay": 1, "MaxAttempts": 120}


#: (attribute, key type, attribute type) of each key attribute, and how to say it.
_Key = tuple[tuple[tuple[str, str, str], ...], str]
_CLIENT_KEY: _Key = (
    ((layout.KEY, "HASH", "N"),),
    f"partition key {layout.KEY} of type Number and no sort key",
)
_SYNC_KEY: _Key = (
    (("pk", "HASH", "S"), ("sk", "RANGE", "S")),
    "partition key pk and sort key sk, both of type String",
)


def _create(client: Any, name: str, key: _Key = _CLIENT_KEY) -> None:
    # ResourceInUse: it exists already, and creating tables is idempotent.
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": a, "KeyType": k} for a, k, _ in key[0]],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, _, t in key[0]],
            BillingMode="PAY_PER_REQUEST",
        )


def _check_key(client: Any, name: str, key: _Key = _CLIENT_KEY) -> None:
    table = client.describe_table(TableName=name)["Table"]
    found = [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    wanted = [(a, k) for a, k, _ in key[0]]
    if found != wanted or any(types.get(a) != t for a, _, t in key[0]):
        raise TableError(f"table {name} exists with key {found} ({types}); the sync needs {key[1]}")

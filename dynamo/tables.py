"""The two DynamoDB tables: partition key ``clientid`` (Number), on-demand capacity.

>>> create_tables()          # idempotent; returns once both are ACTIVE
['clients_info', 'clients_info_by_year']
"""

from __future__ import annotations

import contextlib
from typing import Any, Optional

from contabyx import layout
from dynamo.aws import dynamodb_client


class TableError(RuntimeError):
    """A table exists with another key schema, or did not become ACTIVE."""


def create_tables(
    client: Optional[Any] = None,
    clients_info: str = layout.CLIENTS_INFO_TABLE,
    clients_info_by_year: str = layout.CLIENTS_INFO_BY_YEAR_TABLE,
    *,
    wait: bool = True,
) -> list[str]:
    """Create both tables unless they exist; wait until ACTIVE. Returns their names."""
    client = client or dynamodb_client(retries=True)
    names = [clients_info, clients_info_by_year]
    for name in names:
        _create(client, name)
    if wait:
        waiter = client.get_waiter("table_exists")
        for name in names:
            waiter.wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
    for name in names:
        _check_key(client, name)
    return names


def _create(client: Any, name: str) -> None:
    # ResourceInUse: it exists already, and creating tables is idempotent.
    with contextlib.suppress(client.exceptions.ResourceInUseException):
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": layout.KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": layout.KEY, "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
        )


def _check_key(client: Any, name: str) -> None:
    table = client.describe_table(TableName=name)["Table"]
    key = [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]]
    types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
    if key != [(layout.KEY, "HASH")] or types.get(layout.KEY) != "N":
        raise TableError(
            f"table {name} exists with key {key} ({types}); "
            f"the sync needs partition key {layout.KEY} of type Number and no sort key"
        )

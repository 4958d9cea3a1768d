"""The two DynamoDB tables: partition key ``clientid`` (Number), on-demand capacity.

Example::

    create_tables()    # ['clients_info', 'clients_info_by_year'], once both are ACTIVE
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
    wait: bool = True,
) -> list[str]:
    """Create both tables unless they exist; wait until ACTIVE. Returns their names.

    An endpoint that cannot be reached or does not answer (each call gives up after
    the client's attempts and timeouts) is a TableError saying what to check.
    """
    client = client or dynamodb_client(retries=True)
    names = [clients_info, clients_info_by_year]
    try:
        for name in names:
            _create(client, name)
        if wait:
            waiter = client.get_waiter("table_exists")
            for name in names:
                waiter.wait(TableName=name, WaiterConfig=_WAIT)
        for name in names:
            _check_key(client, name)
    except (BotoConnectionError, HTTPClientError) as exc:  # timeouts, refused, reset
        raise TableError(
            f"DynamoDB did not answer ({exc}) after {ADMIN_ATTEMPTS} attempts: check "
            "AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION and the network (AWS_CONNECT_TIMEOUT and "
            "AWS_READ_TIMEOUT bound each attempt), then re-run"
        ) from exc
    return names


#: A new on-demand table is ACTIVE within seconds; two minutes of polling is plenty.
_WAIT = {"Delay": 1, "MaxAttempts": 120}


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

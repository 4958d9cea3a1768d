"""The DynamoDB client of the sync, configured once.

Retries are the load's own (:mod:`dynamo.load`): botocore's are turned off for
writes so that every retry is counted, backed off with full jitter and capped in
one place.
"""

from __future__ import annotations

from typing import Any, Optional

import boto3
from botocore.config import Config


def dynamodb_client(
    *,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
    pool: int = 10,
    retries: bool = False,
    session: Optional[boto3.Session] = None,
) -> Any:
    """A low-level DynamoDB client with a connection pool of ``pool`` connections.

    ``endpoint_url`` None lets boto3 honour ``AWS_ENDPOINT_URL_DYNAMODB``.
    """
    config = Config(
        max_pool_connections=pool,
        retries={"mode": "standard", "total_max_attempts": 5 if retries else 1},
        connect_timeout=5,
        read_timeout=30,
    )
    return (session or boto3.Session()).client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=config
    )

"""The DynamoDB client of the sync, configured once.

Retries are the load's own (:mod:`dynamo.load`): botocore's are turned off for
writes so that every retry is counted, backed off with full jitter and capped in
one place. Administrative calls (``create-tables``) keep botocore's standard
retries, bounded so that a silent endpoint fails them within about a minute.

Every client has connect and read timeouts (``AWS_CONNECT_TIMEOUT``,
``AWS_READ_TIMEOUT``): an endpoint that accepts a connection and never answers
costs one read timeout per attempt, never a wait without end.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import boto3
from botocore.config import Config

from dynamo.config import Settings

log = logging.getLogger(__name__)

#: Attempts of one administrative call (the first one included). With the default
#: read timeout (20 s), a silent endpoint fails it after about a minute.
ADMIN_ATTEMPTS = 3


def dynamodb_client(
    *,
    region: Optional[str] = None,
    endpoint_url: Optional[str] = None,
    pool: int = 10,
    retries: bool = False,
    connect_timeout: float = Settings.aws_connect_timeout,
    read_timeout: float = Settings.aws_read_timeout,
    session: Optional[boto3.Session] = None,
) -> Any:
    """A low-level DynamoDB client with a connection pool of ``pool`` connections.

    ``retries`` True: botocore retries each call up to :data:`ADMIN_ATTEMPTS`
    attempts in all, each failed attempt logged at INFO. ``endpoint_url`` None lets
    boto3 honour ``AWS_ENDPOINT_URL_DYNAMODB``.
    """
    config = Config(
        max_pool_connections=pool,
        retries={"mode": "standard", "total_max_attempts": ADMIN_ATTEMPTS if retries else 1},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
    client = (session or boto3.Session()).client(
        "dynamodb", region_name=region, endpoint_url=endpoint_url, config=config
    )
    if retries:
        client.meta.events.register("needs-retry.dynamodb", _log_failed_attempt)
    return client


def _log_failed_attempt(
    attempts: int,
    operation: Any,
    response: Optional[tuple[Any, dict[str, Any]]] = None,
    caught_exception: Optional[BaseException] = None,
    **_: Any,
) -> None:
    """Log a failed attempt at INFO; botocore's own retry handler decides what follows.

    Returns None: a ``needs-retry`` handler that answers would override botocore's.
    """
    if caught_exception is not None:
        reason = f"{type(caught_exception).__name__}: {caught_exception}"
    elif response is not None:
        status = response[0].status_code
        code = str(response[1].get("Error", {}).get("Code", ""))
        if status < 500 and "Throttl" not in code and "ThroughputExceeded" not in code:
            return
        reason = f"{code or 'HTTP'} {status}"
    else:
        return
    log.info(
        "DynamoDB %s attempt %d of %d failed (%s)",
        operation.name,
        attempts,
        ADMIN_ATTEMPTS,
        " ".join(reason.split()),
    )

"""A fault-injecting HTTP proxy for AWS JSON protocols (DynamoDB, Redshift Data API).

:class:`FaultProxy` listens on 127.0.0.1 and sits between boto3 and one upstream
endpoint on the loopback interface (DynamoDB Local, the Data API emulator). It
forwards each request with its body and headers unchanged, except for a seeded
fraction of requests, which it answers with a fault instead::

    faults = Faults(throttle=0.3, partial_batch=0.3, drop=0.02, seed=1)
    with FaultProxy("http://127.0.0.1:8000", faults) as proxy:
        client = boto3.client("dynamodb", endpoint_url=proxy.url)
        client.batch_write_item(RequestItems=requests)  # may raise, may leave UnprocessedItems
    proxy.counts  # {"requests": 1, "forwarded": 0, "throttled": 1, "partial": 0, ...}

Faults, as botocore sees them:

- ``throttle``: HTTP 400 ``ProvisionedThroughputExceededException`` (DynamoDB), or
  ``ThrottlingException`` on other services;
- ``throttling``: HTTP 400 ``ThrottlingException``;
- ``server_error``: HTTP 500 ``InternalServerError`` (DynamoDB), or
  ``InternalServerException`` (Data API);
- ``drop``: the request is read, then the connection is closed without an answer;
- ``drop_after_forward``: the same, after the upstream has handled the request
  (the write happened, the client does not know);
- ``partial_batch``: ``BatchWriteItem`` forwards a random non-empty proper subset of
  each table's requests (tables with two or more) and answers the rest as
  ``UnprocessedItems``, merged with what the upstream left unprocessed.

Per-operation :class:`Rule` objects, keyed by ``X-Amz-Target``, come first: a
``DescribeStatement`` answer rewritten to FAILED, ABORTED or STARTED forever
(:meth:`Rule.statement_status`), a modeled error such as ``ValidationException``
(:meth:`Rule.error`), an expired paging token (:meth:`Rule.expired_token`).

Answers the proxy makes or alters carry a correct ``x-amz-crc32`` (DynamoDB's
checksum, which botocore verifies). Draws come from one ``random.Random(seed)``,
so a run's sequence of faults is reproducible (the order in which concurrent
requests arrive is not). Counters are updated under a lock.

The package: :mod:`.rules` decides what to do with each request and shapes the
answers; :mod:`.proxy` serves and forwards; ``__main__`` is the command line,
for manual use::

    python -m devstack.faults --upstream http://127.0.0.1:8000 --throttle 0.3 \\
        --partial 0.3 --drop 0.02 --port 8001
"""

from __future__ import annotations

from .proxy import COUNT_KEYS, FaultProxy
from .rules import (
    BATCH_WRITE_ITEM,
    DESCRIBE_STATEMENT,
    DYNAMODB_PREFIX,
    GET_STATEMENT_RESULT,
    FaultKind,
    Faults,
    Injection,
    Rule,
)

__all__ = [
    "BATCH_WRITE_ITEM",
    "COUNT_KEYS",
    "DESCRIBE_STATEMENT",
    "DYNAMODB_PREFIX",
    "GET_STATEMENT_RESULT",
    "FaultKind",
    "FaultProxy",
    "Faults",
    "Injection",
    "Rule",
]

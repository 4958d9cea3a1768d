"""The writer's retries, against botocore's Stubber (AWS's answers stubbed, not our code).

The fault-injecting proxy over DynamoDB Local covers the same paths end to end
(tests/reliability).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from dynamo.load import BATCH_SIZE, ItemWriter, WriteError

TABLE = "clients_info"


def _client() -> Any:
    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        endpoint_url="http://127.0.0.1:9",
    )


def _item(clientid: int) -> dict[str, Any]:
    return {"clientid": {"N": str(clientid)}, "balance": {"N": "1.00"}}


def _put(clientid: int) -> dict[str, Any]:
    return {"PutRequest": {"Item": _item(clientid)}}


def test_unprocessed_items_and_throttling_are_resent_until_written() -> None:
    client = _client()
    sleeps: list[float] = []
    with Stubber(client) as stub:
        first = [_put(i) for i in range(BATCH_SIZE)]
        stub.add_response(
            "batch_write_item",
            {"UnprocessedItems": {TABLE: first[20:]}},
            {"RequestItems": {TABLE: first}},
        )
        stub.add_client_error(
            "batch_write_item",
            service_error_code="ProvisionedThroughputExceededException",
            http_status_code=400,
        )
        stub.add_client_error(
            "batch_write_item", service_error_code="InternalServerError", http_status_code=500
        )
        stub.add_response(
            "batch_write_item", {"UnprocessedItems": {}}, {"RequestItems": {TABLE: first[20:]}}
        )
        with ItemWriter(client, workers=1, sleep=sleeps.append) as writer:
            for i in range(BATCH_SIZE):
                writer.put(TABLE, _item(i))
        stub.assert_no_pending_responses()
    assert sorted(writer.stats.clientids[TABLE]) == list(range(BATCH_SIZE))
    assert writer.stats.retries == 3
    assert writer.stats.unprocessed == 5
    assert writer.stats.throttled == 1 and writer.stats.server_errors == 1
    # Full jitter: each wait is within its exponential window.
    assert all(0 <= s <= 0.05 * 2 ** (n + 1) for n, s in enumerate(sleeps))


def test_exhausted_retries_fail_loudly_naming_what_was_not_written() -> None:
    client = _client()
    with Stubber(client) as stub:
        for _ in range(3):
            stub.add_client_error(
                "batch_write_item", service_error_code="ThrottlingException", http_status_code=400
            )
        with (
            pytest.raises(WriteError) as caught,
            ItemWriter(client, workers=1, max_retries=2, sleep=lambda _s: None) as writer,
        ):
            for i in (11, 12, 13):
                writer.put(TABLE, _item(i))
    assert caught.value.not_written == {TABLE: [11, 12, 13]}
    assert "11, 12, 13" in str(caught.value)
    assert "ThrottlingException" in str(caught.value)


def test_a_non_retryable_error_is_not_retried() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "batch_write_item", service_error_code="ValidationException", http_status_code=400
        )
        with (
            pytest.raises(WriteError, match="ValidationException"),
            ItemWriter(client, workers=1, sleep=lambda _s: None) as writer,
        ):
            writer.put(TABLE, _item(1))
        stub.assert_no_pending_responses()


def test_deletes_are_batched_like_puts() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "batch_write_item",
            {},
            {"RequestItems": {TABLE: [{"DeleteRequest": {"Key": {"clientid": {"N": "4"}}}}]}},
        )
        with ItemWriter(client, workers=1) as writer:
            writer.delete(TABLE, 4)
    assert writer.stats.deleted == {TABLE: 1}

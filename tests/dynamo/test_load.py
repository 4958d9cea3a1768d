"""The writer's retries, against botocore's Stubber (AWS's answers stubbed, not our code).

The fault-injecting proxy over DynamoDB Local covers the same paths end to end
(tests/reliability).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from dynamo.load import BATCH_SIZE, ItemWriter, WriteError, advice, call_with_retries
from dynamo.pacing import WritePacer
from dynamo.shape import item_size

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


def _sent(requests: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of the ``BatchWriteItem`` that sends ``requests``."""
    return {"RequestItems": {TABLE: requests}, "ReturnConsumedCapacity": "TOTAL"}


def test_unprocessed_items_and_throttling_are_resent_until_written() -> None:
    client = _client()
    sleeps: list[float] = []
    with Stubber(client) as stub:
        first = [_put(i) for i in range(BATCH_SIZE)]
        stub.add_response(
            "batch_write_item",
            {"UnprocessedItems": {TABLE: first[20:]}},
            _sent(first),
        )
        stub.add_client_error(
            "batch_write_item",
            service_error_code="ProvisionedThroughputExceededException",
            http_status_code=400,
        )
        stub.add_client_error(
            "batch_write_item", service_error_code="InternalServerError", http_status_code=500
        )
        stub.add_response("batch_write_item", {"UnprocessedItems": {}}, _sent(first[20:]))
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
            "batch_write_item", service_error_code="ResourceNotFoundException", http_status_code=400
        )
        with (
            pytest.raises(WriteError, match="ResourceNotFoundException") as caught,
            ItemWriter(client, workers=1, sleep=lambda _s: None) as writer,
        ):
            writer.put(TABLE, _item(1))
        stub.assert_no_pending_responses()
    assert "create the tables (contabyx-etl create-tables)" in advice(caught.value.__cause__)


def test_a_batch_refused_as_invalid_leaves_out_only_the_refused_items() -> None:
    client = _client()
    batch = [_put(i) for i in (1, 2, 3)]
    with Stubber(client) as stub:
        stub.add_client_error(
            "batch_write_item",
            service_error_code="ValidationException",
            service_message="Item size has exceeded the maximum allowed size",
            http_status_code=400,
            expected_params=_sent(batch),
        )
        stub.add_response("batch_write_item", {}, _sent(batch[:1]))
        stub.add_client_error(
            "batch_write_item",
            service_error_code="ValidationException",
            service_message="Item size has exceeded the maximum allowed size",
            http_status_code=400,
            expected_params=_sent(batch[1:2]),
        )
        stub.add_response("batch_write_item", {}, _sent(batch[2:]))
        with ItemWriter(client, workers=1, sleep=lambda _s: None) as writer:
            for i in (1, 2, 3):
                writer.put(TABLE, _item(i))
        stub.assert_no_pending_responses()
    assert sorted(writer.stats.clientids[TABLE]) == [1, 3]
    assert writer.stats.rejected == {
        TABLE: [(2, "ValidationException: Item size has exceeded the maximum allowed size")]
    }


@pytest.mark.parametrize(
    ("code", "status", "says"),
    [
        ("ThrottlingException", 400, "re-run"),
        ("InternalServerError", 500, "re-run"),
        ("ResourceNotFoundException", 400, "create the tables (contabyx-etl create-tables)"),
        ("UnrecognizedClientException", 400, "check the credentials"),
        ("InvalidSignatureException", 400, "check the credentials"),
        ("ExpiredTokenException", 400, "check the credentials"),
        ("AccessDeniedException", 400, "check the IAM policy"),
    ],
)
def test_advice_says_what_will_fix_it(code: str, status: int, says: str) -> None:
    error = ClientError(
        {"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "BatchWriteItem",
    )
    assert says in advice(error)
    assert ("re-run" in advice(error)) == (says == "re-run")


def test_each_retry_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_client_error(
            "batch_write_item", service_error_code="ThrottlingException", http_status_code=400
        )
        stub.add_response("batch_write_item", {})
        with (
            caplog.at_level(logging.INFO, "dynamo.load"),
            ItemWriter(client, workers=1, sleep=lambda _s: None) as writer,
        ):
            writer.put(TABLE, _item(1))
    retries = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retries) == 1 and "ThrottlingException" in retries[0], retries


@pytest.mark.integration
def test_a_silent_endpoint_gives_up_after_the_retry_time() -> None:
    """An endpoint that accepts connections and never answers: the batch is retried
    for ``retry_seconds``, not ``max_retries`` times its read timeout."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        client = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="y",
            endpoint_url=url,
            config=Config(read_timeout=0.2, retries={"total_max_attempts": 1}),
        )
        with (
            pytest.raises(WriteError) as caught,
            ItemWriter(client, workers=1, max_retries=100, retry_seconds=0.5) as writer,
        ):
            writer.put(TABLE, _item(1))
    assert "did not answer" in str(caught.value) and url in str(caught.value)
    # Far fewer attempts than max_retries: the time budget stopped it.
    assert 1 <= writer.stats.connection_errors < 100
    assert "check that DynamoDB is reachable" in advice(caught.value.__cause__)


def test_a_throttled_call_is_retried_then_raised() -> None:
    client = _client()
    with Stubber(client) as stub:
        for _ in range(2):
            stub.add_client_error("scan", service_error_code="ThrottlingException")
        stub.add_response("scan", {"Items": []})
        assert call_with_retries(
            lambda: client.scan(TableName=TABLE), what="a scan", max_retries=2, sleep=lambda _: None
        ) == {"Items": []}
        for _ in range(3):
            stub.add_client_error("scan", service_error_code="ThrottlingException")
        with pytest.raises(ClientError, match="Throttling"):
            call_with_retries(
                lambda: client.scan(TableName=TABLE),
                what="a scan",
                max_retries=2,
                sleep=lambda _: None,
            )
        stub.add_client_error("scan", service_error_code="ResourceNotFoundException")
        with pytest.raises(ClientError, match="ResourceNotFound"):
            call_with_retries(lambda: client.scan(TableName=TABLE), what="a scan", max_retries=5)


def test_deletes_are_batched_like_puts() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "batch_write_item",
            {},
            _sent([{"DeleteRequest": {"Key": {"clientid": {"N": "4"}}}}]),
        )
        with ItemWriter(client, workers=1) as writer:
            writer.delete(TABLE, 4)
    assert writer.stats.deleted == {TABLE: 1}


def _sized_put(clientid: int, size: int) -> dict[str, Any]:
    """A put of an item of exactly ``size`` bytes by DynamoDB's rule."""
    head = _item(clientid)
    pad = size - item_size(head) - len("pad")
    return {"PutRequest": {"Item": {**head, "pad": {"S": "x" * pad}}}}


def test_write_units_are_dynamodbs_figure_when_it_gives_one() -> None:
    client = _client()
    with Stubber(client) as stub:
        stub.add_response(
            "batch_write_item",
            {"ConsumedCapacity": [{"TableName": TABLE, "CapacityUnits": 7.0}]},
            _sent([_put(1)]),
        )
        with ItemWriter(client, workers=1) as writer:
            writer.put(TABLE, _item(1))
    # By the rule this small item costs 1; DynamoDB's answer wins (an overwritten item
    # that was bigger costs its old size).
    assert writer.stats.write_units == {TABLE: 7}


def test_without_dynamodbs_figure_write_units_follow_its_rule_for_what_was_written() -> None:
    client = _client()
    sizes = {1: 1024, 2: 1025, 3: 3000, 4: 5000}  # 1, 2, 3 and 5 units
    batch = [_sized_put(clientid, size) for clientid, size in sizes.items()]
    with Stubber(client) as stub:
        stub.add_response("batch_write_item", {"UnprocessedItems": {TABLE: batch[3:]}})
        stub.add_response("batch_write_item", {}, _sent(batch[3:]))
        with ItemWriter(client, workers=1, sleep=lambda _s: None) as writer:
            for request in batch:
                writer.put(TABLE, request["PutRequest"]["Item"])
            writer.delete(TABLE, 9)
        stub.assert_no_pending_responses()
    # Client 4 counted once, when it was written; the delete costs at least one unit.
    assert writer.stats.write_units == {TABLE: 1 + 2 + 3 + 1 + 5}


def test_the_pacer_holds_each_batch_until_its_units_fit() -> None:
    now = [0.0]
    pacer = WritePacer(10, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    client = _client()
    batches = [[_sized_put(n * 100 + i, 1500) for i in range(BATCH_SIZE)] for n in range(3)]
    sent_at: list[float] = []
    with Stubber(client) as stub:
        for batch in batches:
            stub.add_response("batch_write_item", {}, _sent(batch))
        client.meta.events.register(
            "before-parameter-build.dynamodb.BatchWriteItem", lambda **_: sent_at.append(now[0])
        )
        with ItemWriter(client, workers=1, pacer=pacer) as writer:
            for batch in batches:
                for request in batch:
                    writer.put(TABLE, request["PutRequest"]["Item"])
        stub.assert_no_pending_responses()
    # 25 items of 1.5 KB are 50 units: the whole budget of a window at 10 a second.
    assert sent_at == [0.0, 5.0, 10.0]
    assert writer.stats.write_units == {TABLE: 150}


def test_units_dynamodb_billed_beyond_the_estimate_hold_back_the_next_batch() -> None:
    now = [0.0]
    pacer = WritePacer(2, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    client = _client()
    sent_at: list[float] = []
    with Stubber(client) as stub:
        # A small put over a 10 KB item is billed 10 units: the window's whole budget.
        stub.add_response(
            "batch_write_item", {"ConsumedCapacity": [{"TableName": TABLE, "CapacityUnits": 10}]}
        )
        stub.add_response("batch_write_item", {})
        client.meta.events.register(
            "before-parameter-build.dynamodb.BatchWriteItem", lambda **_: sent_at.append(now[0])
        )
        with ItemWriter(client, workers=1, pacer=pacer) as writer:
            writer.put(TABLE, _item(1))
            writer.flush()
            writer.put(TABLE, _item(2))
    assert sent_at == [0.0, 5.0]

"""The emulator validates a request against the botocore model of the client that sent it,
never a newer one: a client whose botocore (named in its User-Agent) is older than the
emulator's own is refused with a message naming both versions and what to do."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from devstack.dataapi import DataApiServer
from devstack.dataapi.errors import ApiError
from devstack.dataapi.model import check_client, client_botocore_version

# The two shapes botocore's User-Agent has had: the structured one of recent versions
# (which also ends with the legacy token), and the legacy one alone.
STRUCTURED = (
    "Boto3/1.35.51 md/Botocore#1.35.51 ua/2.0 os/linux#6.1 md/arch#x86_64 "
    "lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.51"
)
LEGACY = "Boto3/1.28.0 Python/3.11.7 Linux/6.1 Botocore/1.31.0"
UNKNOWN_ID = "d9b6c0c9-0747-4bf4-b142-e8883122f766"


def _older(version: str) -> str:
    major, minor, _patch = (int(part) for part in version.split(".")[:3])
    return f"{major}.{minor - 1}.0" if minor else f"{major - 1}.99.0"


OURS = botocore.__version__
OLDER = _older(OURS)


# --- pure ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user_agent", "version"),
    [
        (STRUCTURED, (1, 35, 51)),
        (LEGACY, (1, 31, 0)),
        ("md/Botocore#1.40.2 Botocore/1.39.0", (1, 40, 2)),  # the structured one wins
        ("Boto3/1.35.51 Botocore/1.35.51.dev0", (1, 35, 51)),
        ("curl/8.5.0", None),
        ("Botocore/unknown", None),
        ("aws-sdk-java/2.20.0 Linux/6.1", None),
        ("", None),
        (None, None),
    ],
)
def test_the_client_botocore_version_is_read_from_either_user_agent_shape(
    user_agent: str | None, version: tuple[int, ...] | None
) -> None:
    assert client_botocore_version(user_agent) == version


@pytest.mark.parametrize("user_agent", ["md/Botocore#1.35.50 x", "Boto3/1.28 Botocore/1.35.50"])
def test_a_client_older_than_the_model_is_refused_naming_both_versions(user_agent: str) -> None:
    with pytest.raises(ApiError) as refused:
        check_client(user_agent, model_version="1.35.51")
    error = refused.value
    assert error.code == "ValidationException"
    assert error.status == 400
    assert "1.35.50" in error.message
    assert "1.35.51" in error.message
    assert "start the local stack from the client's environment" in error.message


@pytest.mark.parametrize(
    "user_agent",
    [
        "Boto3/1.35.51 md/Botocore#1.35.51 Botocore/1.35.51",  # the same version
        "Boto3/1.36.0 md/Botocore#1.36.0 Botocore/1.36.0",  # newer: its model is a superset
        "Botocore/1.35.51",
        "curl/8.5.0",  # unknown clients are accepted
        None,
    ],
)
def test_a_client_as_new_as_the_model_or_unknown_is_accepted(user_agent: str | None) -> None:
    check_client(user_agent, model_version="1.35.51")


def test_the_default_model_version_is_the_emulators_botocore() -> None:
    check_client(f"md/Botocore#{OURS}")
    with pytest.raises(ApiError):
        check_client(f"md/Botocore#{OLDER}")


# --- through HTTP ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[DataApiServer]:
    # No statement runs here, so the warehouse is never reached.
    with DataApiServer("host=/nonexistent dbname=dev", page_size=10) as running:
        yield running


def post(server: DataApiServer, user_agent: str) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        connection.request(
            "POST",
            "/",
            body=json.dumps({"Id": UNKNOWN_ID}),
            headers={
                "X-Amz-Target": "RedshiftData.DescribeStatement",
                "Content-Type": "application/x-amz-json-1.1",
                "User-Agent": user_agent,
            },
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_an_older_client_is_refused_over_http(server: DataApiServer) -> None:
    status, body = post(server, f"Boto3/{OLDER} md/Botocore#{OLDER} ua/2.0 Botocore/{OLDER}")
    assert status == 400
    assert body["__type"] == "ValidationException"
    assert OLDER in body["message"] and OURS in body["message"]


def test_a_client_of_the_same_version_reaches_the_operation_over_http(
    server: DataApiServer,
) -> None:
    status, body = post(server, f"Boto3/{OURS} md/Botocore#{OURS} ua/2.0 Botocore/{OURS}")
    assert status == 400
    assert body["__type"] == "ResourceNotFoundException"


def _client(server: DataApiServer, **config: Any) -> Any:
    return boto3.client(
        "redshift-data",
        endpoint_url=server.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"max_attempts": 1}, **config),
    )


def test_boto3_of_this_environment_is_accepted(server: DataApiServer) -> None:
    with pytest.raises(ClientError) as raised:
        _client(server).describe_statement(Id=UNKNOWN_ID)
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_boto3_claiming_an_older_botocore_gets_the_message(server: DataApiServer) -> None:
    client = _client(server, user_agent=f"Boto3/{OLDER} Botocore/{OLDER}")
    with pytest.raises(ClientError) as raised:
        client.describe_statement(Id=UNKNOWN_ID)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert OLDER in error["Message"] and OURS in error["Message"]

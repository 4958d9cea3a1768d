"""The Lambda entry point, called in-process with AWS's documented sample events
(tests/http/events) turned into this API's requests: an API Gateway HTTP API event
(payload format 2.0) and a Lambda function URL event. It reads the local stack's
DynamoDB through the same application as ``contabyx serve``."""

from __future__ import annotations

import copy
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any, Optional
from urllib.parse import parse_qsl

import pytest

from tests.http.conftest import BY_YEAR, INFO, expected_json, money, unknown_id
from tests.support.expected import ClientFigures

EVENTS = Path(__file__).with_name("events")
SAMPLES = ["api_gateway_http_v2.json", "function_url.json"]
CONTEXT = SimpleNamespace(
    function_name="contabyx-http",
    aws_request_id="c6af9ac6-7b61-11e6-9a41-93e812345678",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:contabyx-http",
    get_remaining_time_in_millis=lambda: 30_000,
)


@pytest.fixture(scope="module")
def aws_lambda(expected: dict[int, ClientFigures]) -> Iterator[ModuleType]:
    """The handler module, imported (cold start) with the function's settings."""
    patch = pytest.MonkeyPatch()
    patch.setenv("CLIENTS_INFO_TABLE", INFO)
    patch.setenv("CLIENTS_INFO_BY_YEAR_TABLE", BY_YEAR)
    sys.modules.pop("contabyx.aws_lambda", None)
    module = importlib.import_module("contabyx.aws_lambda")
    yield module
    module.api.close()
    sys.modules.pop("contabyx.aws_lambda", None)
    patch.undo()


def event(sample: str, path: str, headers: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """AWS's sample event as a GET of ``path`` (with its query string)."""
    base = json.loads((EVENTS / sample).read_text())
    out = copy.deepcopy(base)
    route, _, query = path.partition("?")
    out["rawPath"] = route
    out["rawQueryString"] = query
    pairs = parse_qsl(query, keep_blank_values=True)
    out["queryStringParameters"] = {k: v for k, v in pairs} or None
    out["requestContext"]["http"]["method"] = "GET"
    out["requestContext"]["http"]["path"] = route
    out["body"] = None
    out["isBase64Encoded"] = False
    out["headers"] = {**base["headers"], "accept": "application/json", **(headers or {})}
    return out


def invoke(module: ModuleType, request: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    response = module.handler(request, CONTEXT)
    headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
    body = response.get("body") or ""
    assert response.get("isBase64Encoded") is False
    return response["statusCode"], headers, json.loads(body) if body else None


@pytest.mark.parametrize("sample", SAMPLES)
def test_the_documented_events_read_the_figures(
    aws_lambda: ModuleType, expected: dict[int, ClientFigures], sample: str
) -> None:
    clientid = max(expected)
    assert clientid > 2**53
    c = expected[clientid]
    for by in ("total", "year", "month"):
        status, headers, got = invoke(aws_lambda, event(sample, f"/clients/{clientid}?by={by}"))
        assert status == 200, got
        assert got == expected_json(clientid, c, by)
        assert headers["content-type"] == "application/json"
        assert headers["cache-control"].startswith("private, max-age=")
    year = min(c.years)
    status, _, got = invoke(aws_lambda, event(sample, f"/clients/{clientid}/income?year={year}"))
    assert (status, got) == (
        200,
        {
            "clientid": str(clientid),
            "year": year,
            "month": None,
            "income": money(c.years[year].income),
        },
    )
    status, _, got = invoke(
        aws_lambda, event(sample, f"/clients?ids={clientid},{unknown_id(expected)}")
    )
    assert status == 200
    assert got == {
        "clients": [expected_json(clientid, c, "total")],
        "unknown": [str(unknown_id(expected))],
    }


@pytest.mark.parametrize("sample", SAMPLES)
def test_errors_and_304_through_the_handler(
    aws_lambda: ModuleType, expected: dict[int, ClientFigures], sample: str
) -> None:
    missing = unknown_id(expected)
    status, headers, got = invoke(aws_lambda, event(sample, f"/clients/{missing}/balance"))
    assert (status, got["error"]["code"]) == (404, "client_not_found")
    status, _, got = invoke(aws_lambda, event(sample, "/clients/1/expense?year=2020&month=13"))
    assert (status, got["error"]["code"]) == (400, "invalid_month")
    clientid = min(expected)
    status, headers, _ = invoke(aws_lambda, event(sample, f"/clients/{clientid}"))
    assert status == 200
    status, again, body = invoke(
        aws_lambda, event(sample, f"/clients/{clientid}", {"if-none-match": headers["etag"]})
    )
    assert (status, body, again["etag"]) == (304, None, headers["etag"])
    status, _, got = invoke(aws_lambda, event(sample, "/health"))
    assert (status, got) == (200, {"status": "ok"})
    status, _, got = invoke(aws_lambda, event(sample, "/openapi.json"))
    assert status == 200 and got["openapi"].startswith("3.1")


def test_one_dynamodb_client_serves_every_invocation(
    aws_lambda: ModuleType, expected: dict[int, ClientFigures]
) -> None:
    """The client made at cold start sends every request of later invocations."""
    sent: list[str] = []
    events = aws_lambda.api.dynamodb_client.meta.events
    events.register("before-send.dynamodb", lambda **_: sent.append("x"), unique_id="http-lambda")
    try:
        for n, sample in enumerate(SAMPLES * 2):
            clientid = sorted(expected)[n]
            assert invoke(aws_lambda, event(sample, f"/clients/{clientid}/balance"))[0] == 200
    finally:
        events.unregister("before-send.dynamodb", unique_id="http-lambda")
    assert len(sent) == 4

"""The OpenAPI document the server publishes: valid OpenAPI 3.1, with examples, and
true of the server: a property-based run generated from the document itself (bounded:
a few examples per operation) finds no 5xx and no answer that breaks it."""

from __future__ import annotations

import doctest
import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

import contabyx.http_api
from tests.support.expected import ClientFigures
from tests.support.http_server import Served

OPERATIONS = {
    ("/health", "get"),
    ("/clients", "get"),
    ("/clients/{clientid}", "get"),
    ("/clients/{clientid}/balance", "get"),
    ("/clients/{clientid}/income", "get"),
    ("/clients/{clientid}/expense", "get"),
}


@pytest.fixture(scope="module")
def document(server: Served) -> dict[str, Any]:
    status, headers, body = server.get("/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    return dict(json.loads(body))


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_it_documents_every_endpoint_and_its_errors(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert {(p, m) for p, ops in paths.items() for m in ops} == OPERATIONS
    for path, ops in paths.items():
        responses = ops["get"]["responses"]
        assert "422" not in responses  # bad parameters are 400
        if path.startswith("/clients"):
            assert {"200", "304", "400", "500", "502", "503"} <= set(responses), path
            assert "Retry-After" in responses["503"]["headers"]
            assert {"ETag", "Cache-Control"} <= set(responses["200"]["headers"])
        if path.startswith("/clients/"):
            assert "404" in responses
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_ids_and_amounts_are_documented_as_strings_with_examples(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    total = schemas["ClientTotal"]
    assert total["properties"]["clientid"]["type"] == "string"
    assert total["properties"]["balance"]["type"] == "string"
    assert total["properties"]["balance"]["pattern"]
    for name in (
        "ClientTotal",
        "ClientByYear",
        "ClientByMonth",
        "Clients",
        "Balance",
        "Income",
        "Expense",
    ):
        assert schemas[name].get("examples"), name
    clientid = next(
        p
        for p in document["paths"]["/clients/{clientid}"]["get"]["parameters"]
        if p["name"] == "clientid"
    )
    assert clientid["schema"]["type"] == "string"
    assert int(clientid["schema"]["examples"][0]) > 2**53


def test_the_examples_of_the_module_run() -> None:
    failures, tried = doctest.testmod(contabyx.http_api)
    assert tried > 0 and failures == 0


def test_generated_requests_find_no_5xx_and_no_broken_promise(
    server: Served, expected: dict[int, ClientFigures]
) -> None:
    # Imported here: schemathesis takes seconds to import, and only this test uses it.
    import schemathesis
    from schemathesis.checks import (
        content_type_conformance,
        not_a_server_error,
        response_headers_conformance,
        response_schema_conformance,
        status_code_conformance,
    )

    schema = schemathesis.openapi.from_url(f"{server.base}/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
    ]
    max_examples = 25
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(
            max_examples=max_examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(
            case=operation.as_strategy(),
            known=st.sampled_from(sorted(expected)),
            real=st.booleans(),
        )
        def run(case: Any, known: int, real: bool) -> None:
            # Half the cases name a seeded client, so that real figures are checked too.
            if real and "clientid" in (case.path_parameters or {}):
                case.path_parameters["clientid"] = str(known)
            if real and "ids" in (case.query or {}):
                case.query["ids"] = f"{known},{case.query['ids']}"[:2000]
            response = case.call_and_validate(base_url=server.base, checks=checks)
            statuses[response.status_code] += 1

        try:
            run()
        except Exception as exc:  # collected: one report for every operation
            failures.append(f"{operation.label}: {exc}")
    assert operations == len(OPERATIONS)
    assert failures == []
    # Known and unknown clients were met.
    assert statuses[200] > 2 * max_examples and statuses[404], statuses

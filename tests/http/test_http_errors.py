"""Every error of ``contabyx serve``: its status, its stable code and one line, the
library's own messages for bad arguments, and DynamoDB's failures injected by the
fault proxy (devstack.faults) between the served process and DynamoDB Local. No body
and no log line holds a traceback or a credential."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest

from contabyx import contabyxAPI
from devstack.faults import FaultProxy, Rule
from tests.http.conftest import BY_YEAR, INFO, TABLES, unknown_id
from tests.support.by_year_layout import put_client
from tests.support.expected import ClientFigures
from tests.support.http_server import Served

SENTINEL_KEY_ID = "AKIASENTINELHTTP0042"
SENTINEL_SECRET = "sentinel/Http+Secret+Key0042"
SENTINEL_TOKEN = "sentinel-http-session-token-0042"
SENTINELS = (SENTINEL_KEY_ID, SENTINEL_SECRET, SENTINEL_TOKEN)
#: A client whose by-year item is missing (a sync that did not complete).
HALF = 4_000_000_000_000_002
#: A client whose clients_info item holds text where a figure should be.
GARBLED = 4_000_000_000_000_003

#: Checks arguments only: every call below raises before any request.
_LIBRARY = contabyxAPI(region_name="us-east-1", endpoint_url="http://127.0.0.1:9")


def library_message(call: Callable[[contabyxAPI], Any]) -> str:
    with pytest.raises((TypeError, ValueError)) as info:
        call(_LIBRARY)
    return str(info.value)


def check_error(status: int, headers: dict[str, str], body: bytes, want: int, code: str) -> str:
    """The body is ``{"error": {"code", "message"}}`` of one line; returns the message."""
    assert status == want, body
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"
    assert "etag" not in headers
    got = json.loads(body)
    assert set(got) == {"error"} and set(got["error"]) == {"code", "message"}
    assert got["error"]["code"] == code, got
    message = got["error"]["message"]
    assert message and "\n" not in message and "Traceback" not in message
    return str(message)


def test_an_unknown_client_is_404(server: Served, expected: dict[int, ClientFigures]) -> None:
    missing = unknown_id(expected)
    for path in (
        f"/clients/{missing}",
        f"/clients/{missing}?by=year",
        f"/clients/{missing}?by=month",
        f"/clients/{missing}/balance",
        f"/clients/{missing}/income",
        f"/clients/{missing}/income?year=2020",
        f"/clients/{missing}/expense?year=2020&month=2",
    ):
        message = check_error(*server.get(path), 404, "client_not_found")
        assert message == f"client {missing} not found", path


def test_an_unknown_path_or_method(server: Served) -> None:
    check_error(*server.get("/nowhere"), 404, "not_found")
    check_error(*server.get("/clients/1/balance/more"), 404, "not_found")
    check_error(*server.get("/clients/1", method="POST"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("path", "code", "same_as"),
    [
        ("/clients/-1", "invalid_clientid", lambda a: a.client(-1)),
        ("/clients/9223372036854775808/balance", "invalid_clientid", lambda a: a.balance(2**63)),
        ("/clients/1/income?year=0", "invalid_year", lambda a: a.income(1, 0)),
        ("/clients/1/expense?year=10000", "invalid_year", lambda a: a.expense(1, 10000)),
        ("/clients/1/income?month=3", "invalid_month", lambda a: a.income(1, None, 3)),
        (
            "/clients/1/expense?year=2020&month=13",
            "invalid_month",
            lambda a: a.expense(1, 2020, 13),
        ),
        ("/clients/1/income?year=2020&month=0", "invalid_month", lambda a: a.income(1, 2020, 0)),
        ("/clients?ids=1,-2", "invalid_ids", lambda a: a.clients([1, -2])),
        (
            "/clients?ids=1,99999999999999999999",
            "invalid_ids",
            lambda a: a.clients([1, 10**20 - 1]),
        ),
    ],
)
def test_bad_values_are_400_with_the_librarys_message(
    server: Served, path: str, code: str, same_as: Callable[[contabyxAPI], Any]
) -> None:
    assert check_error(*server.get(path), 400, code) == library_message(same_as)


@pytest.mark.parametrize(
    ("path", "code", "same_as"),
    [
        ("/clients/abc", "invalid_clientid", lambda a: a.client("abc")),
        ("/clients/1.5/balance", "invalid_clientid", lambda a: a.balance("1.5")),
        ("/clients/1/income?year=abc", "invalid_year", lambda a: a.income(1, "abc")),
        ("/clients/1/income?year=", "invalid_year", lambda a: a.income(1, "")),
        (
            "/clients/1/expense?year=2020&month=x",
            "invalid_month",
            lambda a: a.expense(1, 2020, "x"),
        ),
        ("/clients?ids=", "invalid_ids", lambda a: a.clients([""])),
        ("/clients?ids=1,x", "invalid_ids", lambda a: a.clients([1, "x"])),
    ],
)
def test_bad_types_are_400_with_the_librarys_message(
    server: Served, path: str, code: str, same_as: Callable[[contabyxAPI], Any]
) -> None:
    message = check_error(*server.get(path), 400, code)
    assert message == library_message(same_as)
    assert "not str" in message


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        (
            "/clients/1?by=week",
            "invalid_by",
            "by must be one of 'total', 'year', 'month', got 'week'",
        ),
        (
            "/clients?ids=1&by=day",
            "invalid_by",
            "by must be one of 'total', 'year', 'month', got 'day'",
        ),
        ("/clients", "invalid_ids", "ids is required"),
        ("/clients?ids=" + ",".join(["1"] * 101), "invalid_ids", "ids lists 101 ids; at most 100"),
    ],
)
def test_by_and_the_id_list_are_400(server: Served, path: str, code: str, message: str) -> None:
    assert check_error(*server.get(path), 400, code) == message


# --- DynamoDB failures, injected ----------------------------------------------------


@pytest.fixture(scope="module")
def proxy(local_stack: Any) -> Iterator[FaultProxy]:
    with FaultProxy(local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"]) as running:
        yield running


@pytest.fixture(scope="module")
def faulty(
    expected: dict[int, ClientFigures], proxy: FaultProxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A second server, reaching DynamoDB through the proxy, with sentinel keys."""
    log = tmp_path_factory.mktemp("faulty") / "serve.log"
    env = {
        "AWS_ACCESS_KEY_ID": SENTINEL_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SENTINEL_SECRET,
        "AWS_SESSION_TOKEN": SENTINEL_TOKEN,
    }
    put_client((INFO, BY_YEAR), HALF, {2024: {1: {"income": 1, "income_count": 1}}}, by_year=False)
    with Served([*TABLES, "--endpoint-url", proxy.url], env=env, log=log) as served:
        yield served
    text = log.read_text()
    assert "Traceback" not in text
    for secret in SENTINELS:
        assert secret not in text


@pytest.fixture
def rule(proxy: FaultProxy) -> Iterator[Callable[[Rule], None]]:
    yield proxy.add_rule
    proxy.clear_rules()


@pytest.mark.parametrize("fault", ["throttled", "throttling"])
def test_throttling_is_503_with_retry_after(
    faulty: Served,
    expected: dict[int, ClientFigures],
    rule: Callable[[Rule], None],
    fault: Any,
) -> None:
    clientid = min(expected)
    assert faulty.get(f"/clients/{clientid}")[0] == 200
    rule(Rule("*", fault))
    for path in (
        f"/clients/{clientid}?by=month",
        f"/clients?ids={clientid}",
        f"/clients/{clientid}/balance",
    ):
        status, headers, body = faulty.get(path)
        check_error(status, headers, body, 503, "throttled")
        assert int(headers["retry-after"]) >= 1
        for secret in SENTINELS:
            assert secret not in body.decode()
    assert "503 throttled" in faulty.log_text()


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (Rule("*", "server_error"), 502, "dynamodb_error"),
        (Rule("*", "dropped"), 502, "dynamodb_unavailable"),
        (Rule.error("*", "AccessDeniedException", "User is not authorized"), 500, "misconfigured"),
        (
            Rule.error("*", "ResourceNotFoundException", "Requested resource not found"),
            500,
            "misconfigured",
        ),
        (
            Rule.error("*", "UnrecognizedClientException", "The security token is invalid"),
            500,
            "misconfigured",
        ),
        (
            Rule.error("*", "ValidationException", "Something odd", http_status=400),
            502,
            "dynamodb_error",
        ),
    ],
)
def test_other_aws_failures_are_502_or_500(
    faulty: Served,
    expected: dict[int, ClientFigures],
    rule: Callable[[Rule], None],
    fault: Rule,
    status: int,
    code: str,
) -> None:
    clientid = min(expected)
    rule(fault)
    for path in (
        f"/clients/{clientid}",
        f"/clients/{clientid}/income?year=2020",
        f"/clients?ids={clientid}",
    ):
        got = faulty.get(path)
        check_error(*got, status, code)
        assert "retry-after" not in got[1]
        text = got[2].decode()
        assert "Exception" not in text and INFO not in text and BY_YEAR not in text
        for secret in SENTINELS:
            assert secret not in text
    assert f"{status} {code}" in faulty.log_text()


def test_a_client_the_last_sync_left_incomplete_is_500(faulty: Served) -> None:
    assert faulty.get(f"/clients/{HALF}")[0] == 200  # the totals are there
    for path in (
        f"/clients/{HALF}?by=year",
        f"/clients/{HALF}/income?year=2024",
        f"/clients?ids={HALF}&by=month",
    ):
        check_error(*faulty.get(path), 500, "inconsistent_data")


def test_health_never_reads_dynamodb(
    faulty: Served, proxy: FaultProxy, rule: Callable[[Rule], None]
) -> None:
    rule(Rule("*", "dropped"))
    before = proxy.counts["requests"]
    status, _, body = faulty.get("/health")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert proxy.counts["requests"] == before


def test_the_server_listens_on_loopback_only(server: Served) -> None:
    """Started without --host: its listening socket is bound to 127.0.0.1."""
    assert "--host" not in server.command()
    listening = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port = local.split(":")
        if state == "0A" and int(port, 16) == server.port:
            listening.append(address)
    assert listening == ["0100007F"]  # 127.0.0.1, little-endian hex
    v6 = Path("/proc/net/tcp6")
    if v6.exists():
        for line in v6.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            assert not (state == "0A" and int(local.rsplit(":", 1)[1], 16) == server.port)


def test_a_bad_setting_stops_serve_with_one_line(tmp_path: Path, local_stack: Any) -> None:
    served = Served(TABLES, env={"HTTP_CACHE_MAX_AGE": "soon"}, log=tmp_path / "log")
    try:
        with pytest.raises(RuntimeError, match="exited with 1"):
            served.__enter__()
    finally:
        served.__exit__()
    text = served.log_text()
    assert text.count("\n") == 1 and "HTTP_CACHE_MAX_AGE" in text


def test_an_unexpected_error_is_500_and_one_line(server: Served) -> None:
    """An item no sync writes (a figure that is text) makes the library fail in a way
    nothing maps: a 500 with its code, one log line, no traceback."""
    boto3.client("dynamodb").put_item(
        TableName=INFO,
        Item={"clientid": {"N": str(GARBLED)}, "balance": {"S": "not a number"}, "run": {"S": "x"}},
    )
    check_error(*server.get(f"/clients/{GARBLED}"), 500, "internal_error")
    log = server.log_text()
    assert "500 internal_error" in log
    assert "Traceback" not in log

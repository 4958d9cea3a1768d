"""contabyxAPI on the local stack, against tables written by the sync from seeded rows.

Every figure is compared to tests.support.expected, computed from the source rows
when this module's tables are written (other modules may re-seed the warehouse later).
Round trips are counted with botocore's ``before-send`` event.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest
from botocore.config import Config
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber

import contabyx
from contabyx import (
    AccessDenied,
    ClientNotFound,
    ConnectionFailed,
    ContabyxError,
    CredentialsError,
    ServiceError,
    TableNotFound,
    Throttled,
    contabyxAPI,
)
from tests.support.expected import ClientFigures, Figures, cents, expected_client
from tests.support.synced import seed_and_sync

CLIENTS = 300
INFO = "api_clients_info"
BY_YEAR = "api_clients_info_by_year"
YEARS = (2015, 2026)

SENTINEL_KEY_ID = "AKIASENTINELKEYID0042"
SENTINEL_SECRET = "sentinel/Secret+Access+Key0042"
SENTINEL_TOKEN = "sentinel-session-token-0042"
SENTINELS = (SENTINEL_KEY_ID, SENTINEL_SECRET, SENTINEL_TOKEN)


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def expected(local_stack: Any, warehouse: Any) -> dict[int, ClientFigures]:
    """Seed, compute the figures from the source rows, sync into this module's tables."""
    figures = seed_and_sync(
        local_stack, warehouse, clients=CLIENTS, seed=7, years=YEARS, tables=(INFO, BY_YEAR)
    )
    return figures


@pytest.fixture(scope="module")
def api(expected: dict[int, ClientFigures]) -> Iterator[contabyxAPI]:
    # No endpoint_url: AWS_ENDPOINT_URL_DYNAMODB from the local stack must just work.
    with contabyxAPI(clients_info_table=INFO, clients_info_by_year_table=BY_YEAR) as instance:
        yield instance


@dataclass
class Calls:
    """Every request a client sends: operation name and JSON body."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Any, **_: Any) -> None:
        target = request.headers["X-Amz-Target"]
        operation = (target.decode() if isinstance(target, bytes) else target).split(".")[-1]
        with self.lock:
            self.sent.append((operation, json.loads(request.body or b"{}")))

    def operations(self) -> Counter[str]:
        return Counter(op for op, _ in self.sent)

    def clear(self) -> None:
        self.sent.clear()


@pytest.fixture
def calls(api: contabyxAPI) -> Iterator[Calls]:
    recorder = Calls()
    events = api.dynamodb_client.meta.events
    events.register("before-send.dynamodb", recorder, unique_id="test-api-calls")
    yield recorder
    events.unregister("before-send.dynamodb", unique_id="test-api-calls")


def unknown_id(expected: dict[int, ClientFigures]) -> int:
    candidate = 1
    while candidate in expected:
        candidate += 1
    return candidate


def sample(expected: dict[int, ClientFigures], n: int, seed_: int = 3) -> list[int]:
    ids = sorted(expected)
    return random.Random(seed_).sample(ids, min(n, len(ids)))


# --- the data has what the tests need ------------------------------------------------


def test_the_seed_has_the_cases_that_matter(expected: dict[int, ClientFigures]) -> None:
    assert len(expected) > CLIENTS * 0.9
    assert any(c.total.income_count == 0 for c in expected.values()), "expenses only"
    assert any(len(c.years) < max(c.years) - min(c.years) + 1 for c in expected.values()), (
        "a client with a year without any transaction between two active years"
    )
    assert any(cid > 2**53 for cid in expected), "BIGINT-sized client ids"


def test_the_endpoint_comes_from_the_environment(api: contabyxAPI, local_stack: Any) -> None:
    assert api.dynamodb_client.meta.endpoint_url == local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"]


# --- every method against the independent computation --------------------------------


def test_totals_of_every_client(api: contabyxAPI, expected: dict[int, ClientFigures]) -> None:
    for clientid, c in expected.items():
        assert api.balance(clientid) == cents(c.total.balance), clientid
        assert api.income(clientid) == cents(c.total.income), clientid
        assert api.expense(id=clientid) == cents(c.total.expense), clientid


def test_years_including_empty_ones(api: contabyxAPI, expected: dict[int, ClientFigures]) -> None:
    for clientid in sample(expected, 30):
        c = expected[clientid]
        for year in (*range(YEARS[0] - 1, YEARS[1] + 2), 1, 9999):
            want = c.years.get(year, Figures())
            assert api.income(clientid, year) == cents(want.income), (clientid, year)
            assert api.expense(clientid, year=year) == cents(want.expense), (clientid, year)


def test_months_including_empty_ones(api: contabyxAPI, expected: dict[int, ClientFigures]) -> None:
    for clientid in sample(expected, 10):
        c = expected[clientid]
        for year in random.Random(clientid).sample(sorted(c.years), min(3, len(c.years))):
            for month in range(1, 13):
                want = c.months.get((year, month), Figures())
                got_income = api.income(clientid, year, month)
                assert got_income == cents(want.income), (clientid, year, month)
                got_expense = api.expense(id=clientid, year=year, month=month)
                assert got_expense == cents(want.expense), (clientid, year, month)


def test_a_year_and_a_month_without_transactions_are_zero(
    api: contabyxAPI, expected: dict[int, ClientFigures]
) -> None:
    gap = next(
        (cid, y)
        for cid, c in sorted(expected.items())
        for y in range(min(c.years), max(c.years))
        if y not in c.years
    )
    assert api.income(*gap) == 0.0
    assert api.expense(*gap) == 0.0
    assert api.income(gap[0], gap[1], 6) == 0.0
    assert gap[1] not in api.client(gap[0], "by_year")["years"]
    quiet = next(
        (cid, y, m)
        for cid, c in sorted(expected.items())
        for y in c.years
        for m in range(1, 13)
        if (y, m) not in c.months
    )
    assert api.income(*quiet) == 0.0
    assert api.expense(*quiet) == 0.0
    assert quiet[2] not in api.client(quiet[0], "by_month")["years"][quiet[1]]["months"]


def test_a_client_with_only_expenses(api: contabyxAPI, expected: dict[int, ClientFigures]) -> None:
    clientid, c = next((k, v) for k, v in sorted(expected.items()) if v.total.income_count == 0)
    assert api.income(clientid) == 0.0
    assert api.expense(clientid) == cents(c.total.expense) > 0
    assert api.balance(clientid) == -cents(c.total.expense)
    got = api.client(clientid, "by_year")
    assert got["income_count"] == 0
    assert all(year["income"] == 0.0 for year in got["years"].values())


def test_a_zero_balance_if_the_seed_has_one(
    api: contabyxAPI, expected: dict[int, ClientFigures]
) -> None:
    zeros = [k for k, v in expected.items() if v.total.balance == 0]
    for clientid in zeros:
        assert api.balance(clientid) == 0.0
    zero_years = [(k, y) for k, v in expected.items() for y, f in v.years.items() if f.balance == 0]
    for clientid, year in zero_years[:20]:
        assert api.client(clientid, "by_year")["years"][year]["balance"] == 0.0


@pytest.mark.parametrize("return_type", ["total", "by_year", "by_month"])
def test_client_for_a_sample(
    api: contabyxAPI, expected: dict[int, ClientFigures], return_type: str
) -> None:
    for clientid in sample(expected, 40):
        got = api.client(clientid, return_type)
        assert got == expected_client(clientid, expected[clientid], return_type)
        assert all(type(y) is int for y in got.get("years", {}))


def test_client_types(api: contabyxAPI, expected: dict[int, ClientFigures]) -> None:
    clientid = max(expected)  # BIGINT-sized
    got = api.client(id=clientid, return_type="by_month")
    assert type(got["clientid"]) is int and got["clientid"] == clientid
    for name in ("balance", "income", "expense"):
        assert type(got[name]) is float
    for name in ("income_count", "expense_count"):
        assert type(got[name]) is int
    for year in got["years"].values():
        assert type(year["income"]) is float
        assert all(type(m) is int and 1 <= m <= 12 for m in year["months"])


@pytest.mark.parametrize("return_type", ["total", "by_year", "by_month"])
def test_clients_of_every_client(
    api: contabyxAPI, expected: dict[int, ClientFigures], return_type: str, calls: Calls
) -> None:
    ids = sorted(expected)
    missing = unknown_id(expected)
    got = api.clients([*ids, missing, ids[0], ids[1]], return_type)
    assert list(got) == ids  # first-seen order; unknown absent; duplicates once
    for clientid in ids:
        assert got[clientid] == expected_client(clientid, expected[clientid], return_type)
    batches = [body for op, body in calls.sent if op == "BatchGetItem"]
    table = INFO if return_type == "total" else BY_YEAR
    reads = [b for b in batches if set(b["RequestItems"]) == {table}]
    assert len(reads) == -(-(len(ids) + 1) // 100)
    # By year, the ids the by-year table lacks are looked up, key only, in clients_info:
    # one more request for the batch that holds the unknown id.
    assert len(batches) == len(reads) + (return_type != "total")
    for body in batches:
        keys = sum(len(t["Keys"]) for t in body["RequestItems"].values())
        assert keys <= 100
    assert set(calls.operations()) == {"BatchGetItem"}


def test_clients_of_nothing_sends_nothing(api: contabyxAPI, calls: Calls) -> None:
    assert api.clients([]) == {}
    assert api.clients(iter(()), "by_month") == {}
    assert calls.sent == []


# --- unknown clients ----------------------------------------------------------------


def test_unknown_client(api: contabyxAPI, expected: dict[int, ClientFigures]) -> None:
    missing = unknown_id(expected)
    attempts: list[Callable[[], Any]] = [
        lambda: api.balance(missing),
        lambda: api.income(missing),
        lambda: api.expense(missing, 2019),
        lambda: api.income(missing, 2019, 7),
        lambda: api.client(missing),
        lambda: api.client(missing, "by_year"),
        lambda: api.client(missing, "by_month"),
    ]
    for attempt in attempts:
        with pytest.raises(ClientNotFound) as info:
            attempt()
        assert isinstance(info.value, LookupError)
        assert isinstance(info.value, ContabyxError)
        assert info.value.clientid == missing
        assert str(missing) in str(info.value)
    assert api.clients([missing]) == {}


# --- bad arguments: raised before any request ---------------------------------------


BAD_CALLS: list[tuple[str, tuple[Any, ...], dict[str, Any], type[Exception]]] = [
    ("balance", (True,), {}, TypeError),
    ("balance", ("1",), {}, TypeError),
    ("balance", (1.0,), {}, TypeError),
    ("balance", (None,), {}, TypeError),
    ("balance", (-1,), {}, ValueError),
    ("balance", (2**63,), {}, ValueError),
    ("income", (1, True), {}, TypeError),
    ("income", (1, 2019.0), {}, TypeError),
    ("income", (1, 2019, "7"), {}, TypeError),
    ("income", (1, 0), {}, ValueError),
    ("income", (1, 10000), {}, ValueError),
    ("income", (1, 2019, 0), {}, ValueError),
    ("income", (1, 2019, 13), {}, ValueError),
    ("income", (1,), {"month": 7}, ValueError),
    ("expense", (False,), {}, TypeError),
    ("expense", (1, -5), {}, ValueError),
    ("expense", (1,), {"month": 1}, ValueError),
    ("client", (1, "totals"), {}, ValueError),
    ("client", (1, None), {}, ValueError),
    ("client", ("1",), {}, TypeError),
    ("client", (-3,), {}, ValueError),
    ("clients", ("123",), {}, TypeError),
    ("clients", (5,), {}, TypeError),
    ("clients", ([1, True],), {}, TypeError),
    ("clients", ([1, -1],), {}, ValueError),
    ("clients", ([1],), {"return_type": "year"}, ValueError),
]


@pytest.mark.parametrize(("method", "args", "kwargs", "error"), BAD_CALLS)
def test_bad_arguments_fail_before_any_request(
    api: contabyxAPI,
    calls: Calls,
    method: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        getattr(api, method)(*args, **kwargs)
    assert calls.sent == []


def test_return_type_message_lists_the_valid_ones(api: contabyxAPI) -> None:
    with pytest.raises(ValueError, match="'total', 'by_year', 'by_month'"):
        api.client(1, "yearly")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"clients_info_table": "ab"},
        {"clients_info_table": "bad name"},
        {"clients_info_by_year_table": "x" * 256},
        {"clients_info_table": "same_table", "clients_info_by_year_table": "same_table"},
        {"aws_access_key_id": SENTINEL_KEY_ID},
        {"aws_secret_access_key": SENTINEL_SECRET},
        {"aws_session_token": SENTINEL_TOKEN},
        {"max_pool_connections": 0},
    ],
)
def test_bad_settings_fail_in_the_constructor(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError) as info:
        contabyxAPI(region_name="us-east-1", **kwargs)
    assert not any(s in str(info.value) for s in SENTINELS)


def test_bad_setting_types_fail_in_the_constructor() -> None:
    with pytest.raises(TypeError):
        contabyxAPI(clients_info_table=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        contabyxAPI(consistent_read="yes")  # type: ignore[arg-type]


# --- round trips --------------------------------------------------------------------


def test_one_get_item_each_with_a_projection(
    api: contabyxAPI, expected: dict[int, ClientFigures], calls: Calls
) -> None:
    clientid = next(k for k, v in sorted(expected.items()) if 2019 in v.years)
    cases: list[tuple[Any, str, str, dict[str, str]]] = [
        (lambda: api.balance(clientid), INFO, "#n0, #n1", {"#n0": "clientid", "#n1": "balance"}),
        (lambda: api.income(clientid), INFO, "#n0, #n1", {"#n0": "clientid", "#n1": "income"}),
        (lambda: api.expense(clientid), INFO, "#n0, #n1", {"#n0": "clientid", "#n1": "expense"}),
        (
            lambda: api.income(clientid, 2019),
            BY_YEAR,
            "#n0, #n1, #n2.#n3",
            {"#n0": "clientid", "#n1": "run", "#n2": "y2019", "#n3": "income"},
        ),
        (
            lambda: api.expense(clientid, 2019, 7),
            BY_YEAR,
            "#n0, #n1, #n2.#n3.#n4.#n5",
            {
                "#n0": "clientid",
                "#n1": "run",
                "#n2": "y2019",
                "#n3": "months",
                "#n4": "m07",
                "#n5": "expense",
            },
        ),
    ]
    for call, table, projection, names in cases:
        calls.clear()
        call()
        assert [op for op, _ in calls.sent] == ["GetItem"]
        body = calls.sent[0][1]
        assert body["TableName"] == table
        assert body["Key"] == {"clientid": {"N": str(clientid)}}
        assert body["ProjectionExpression"] == projection
        assert body["ExpressionAttributeNames"] == names
        assert body.get("ConsistentRead", False) is False


@pytest.mark.parametrize("return_type", ["total", "by_year", "by_month"])
def test_client_is_one_get_item_of_one_table(
    api: contabyxAPI, expected: dict[int, ClientFigures], calls: Calls, return_type: str
) -> None:
    clientid = sample(expected, 1)[0]
    api.client(clientid, return_type)
    assert [op for op, _ in calls.sent] == ["GetItem"]
    body = calls.sent[0][1]
    assert body["TableName"] == (INFO if return_type == "total" else BY_YEAR)
    assert body["Key"] == {"clientid": {"N": str(clientid)}}


def test_consistent_read(expected: dict[int, ClientFigures]) -> None:
    recorder = Calls()
    clientid = sample(expected, 1)[0]
    with contabyxAPI(
        clients_info_table=INFO, clients_info_by_year_table=BY_YEAR, consistent_read=True
    ) as strong:
        strong.dynamodb_client.meta.events.register("before-send.dynamodb", recorder)
        assert strong.balance(clientid) == cents(expected[clientid].total.balance)
        assert strong.client(clientid, "by_month") == expected_client(
            clientid, expected[clientid], "by_month"
        )
        strong.clients([clientid], "by_year")
    get, by_year, batch = (body for _, body in recorder.sent)
    assert get["ConsistentRead"] is True
    assert by_year["ConsistentRead"] is True
    assert all(t["ConsistentRead"] is True for t in batch["RequestItems"].values())


# --- UnprocessedKeys ----------------------------------------------------------------


class Unprocess:
    """An ``after-call`` hook that moves every other returned item back to
    UnprocessedKeys, as DynamoDB does under throttling, for the first ``times`` calls
    (or always)."""

    def __init__(self, times: Optional[int]) -> None:
        self.times = times
        self.seen = 0

    def __call__(self, parsed: dict[str, Any], **_: Any) -> None:
        self.seen += 1
        if self.times is not None and self.seen > self.times:
            return
        unprocessed = parsed.setdefault("UnprocessedKeys", {})
        for table, items in parsed.get("Responses", {}).items():
            moved = items[::2] if self.times is not None else list(items)
            parsed["Responses"][table] = [i for i in items if i not in moved]
            if moved:
                keys = [{"clientid": i["clientid"]} for i in moved]
                unprocessed.setdefault(table, {"Keys": []})["Keys"].extend(keys)


def test_unprocessed_keys_are_retried(expected: dict[int, ClientFigures]) -> None:
    ids = sorted(expected)[:80]
    recorder, hook = Calls(), Unprocess(times=2)
    with contabyxAPI(
        clients_info_table=INFO, clients_info_by_year_table=BY_YEAR, batch_backoff_base=0.001
    ) as api:
        events = api.dynamodb_client.meta.events
        events.register("before-send.dynamodb", recorder)
        events.register("after-call.dynamodb.BatchGetItem", hook)
        got = api.clients(ids, "by_year")
        assert got == {c: expected_client(c, expected[c], "by_year") for c in ids}
        # One batch of 80 clients; the first two responses kept half back.
        assert recorder.operations() == Counter({"BatchGetItem": 3})
        retried = recorder.sent[1][1]["RequestItems"]
        assert 0 < sum(len(t["Keys"]) for t in retried.values()) < 100
        assert all("ConsistentRead" in t for t in retried.values())

        recorder.clear()
        hook.times, hook.seen = 1, 0
        clientid = ids[0]
        assert api.clients([clientid], "by_month") == {
            clientid: expected_client(clientid, expected[clientid], "by_month")
        }
        assert recorder.operations() == Counter({"BatchGetItem": 2})


def test_unprocessed_keys_exhausted_raise_throttled(
    expected: dict[int, ClientFigures], caplog: pytest.LogCaptureFixture
) -> None:
    recorder = Calls()
    with contabyxAPI(
        SENTINEL_KEY_ID,
        SENTINEL_SECRET,
        aws_session_token=SENTINEL_TOKEN,
        clients_info_table=INFO,
        clients_info_by_year_table=BY_YEAR,
        batch_max_attempts=3,
        batch_backoff_base=0.001,
        batch_backoff_cap=0.01,
    ) as api:
        events = api.dynamodb_client.meta.events
        events.register("before-send.dynamodb", recorder)
        events.register("after-call.dynamodb.BatchGetItem", Unprocess(times=None))
        with caplog.at_level(logging.DEBUG, logger="contabyx"), pytest.raises(Throttled) as info:
            api.clients([sorted(expected)[0]], "by_year")
    assert recorder.operations() == Counter({"BatchGetItem": 3})
    assert isinstance(info.value, ContabyxError)
    assert "unprocessed" in str(info.value)
    assert "\n" not in str(info.value)
    assert "unprocessed" in caplog.text
    for secret in SENTINELS:
        assert secret not in caplog.text
        assert secret not in str(info.value)


# --- AWS failures -------------------------------------------------------------------


def test_a_missing_table(expected: dict[int, ClientFigures]) -> None:
    clientid = sample(expected, 1)[0]
    with contabyxAPI(
        clients_info_table="api_no_such_table", clients_info_by_year_table=BY_YEAR
    ) as api:
        for call in (lambda: api.balance(clientid), lambda: api.client(clientid)):
            with pytest.raises(TableNotFound) as info:
                call()
            assert isinstance(info.value, ContabyxError)
            assert "api_no_such_table" in str(info.value)
            assert "ResourceNotFoundException" in str(info.value)
            assert info.value.__cause__ is not None
        assert api.income(clientid, 2019) == cents(
            expected[clientid].years.get(2019, Figures()).income
        )


def test_keys_never_show(expected: dict[int, ClientFigures], local_stack: Any) -> None:
    # DynamoDB Local accepts any key: the sentinels are sent but must never be shown.
    clientid = sample(expected, 1)[0]
    api = contabyxAPI(
        SENTINEL_KEY_ID,
        SENTINEL_SECRET,
        aws_session_token=SENTINEL_TOKEN,
        clients_info_table="api_no_such_table",
        clients_info_by_year_table=BY_YEAR,
    )
    texts = [repr(api), str(api), str(vars(api))]
    for call in (lambda: api.balance(clientid), lambda: api.clients([clientid])):
        with pytest.raises(TableNotFound) as info:
            call()
        texts.append(str(info.value))
    dead = contabyxAPI(
        SENTINEL_KEY_ID,
        SENTINEL_SECRET,
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(ConnectionFailed) as failed:
        dead.balance(1)
    texts += [str(failed.value), repr(dead)]
    assert "api_no_such_table" in repr(api) and "us-east-1" in repr(api)
    for text in texts:
        for secret in SENTINELS:
            assert secret not in text, text


def test_no_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    api = contabyxAPI(region_name="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(CredentialsError) as info:
        api.balance(1)
    assert isinstance(info.value.__cause__, NoCredentialsError)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("AccessDeniedException", 400, AccessDenied),
        ("ProvisionedThroughputExceededException", 400, Throttled),
        ("ThrottlingException", 400, Throttled),
        ("UnrecognizedClientException", 400, CredentialsError),
        ("ResourceNotFoundException", 400, TableNotFound),
        ("ValidationException", 400, ServiceError),
        ("InternalServerError", 500, ServiceError),
    ],
)
def test_aws_errors_map_to_contabyx_errors(
    code: str, status: int, error: type[ContabyxError]
) -> None:
    # Stubbed: no request leaves the process.
    api = contabyxAPI(
        SENTINEL_KEY_ID,
        SENTINEL_SECRET,
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
    )
    with Stubber(api.dynamodb_client) as stub:
        stub.add_client_error(
            "get_item",
            service_error_code=code,
            service_message=f"a message\nwith {SENTINEL_KEY_ID} on two lines",
            http_status_code=status,
        )
        stub.add_client_error("batch_get_item", service_error_code=code, http_status_code=status)
        with pytest.raises(error) as info:
            api.income(7, 2019)
        with pytest.raises(error) as batch_info:
            api.clients([7])
    for failure in (info.value, batch_info.value):
        assert isinstance(failure, ContabyxError)
        assert code in str(failure)
        assert "\n" not in str(failure)
        assert SENTINEL_KEY_ID not in str(failure)
        assert failure.__cause__ is not None


@pytest.mark.integration
def test_no_region_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/contabyx-test")
    with pytest.raises(contabyx.ConfigurationError, match="region"):
        contabyxAPI()


# --- threads ------------------------------------------------------------------------


def test_one_instance_shared_by_threads(
    api: contabyxAPI, expected: dict[int, ClientFigures]
) -> None:
    ids = sorted(expected)
    failures: list[BaseException] = []

    def work(seed_: int) -> None:
        rng = random.Random(seed_)
        try:
            for _ in range(40):
                clientid = rng.choice(ids)
                c = expected[clientid]
                year = rng.choice(sorted(c.years))
                assert api.balance(clientid) == cents(c.total.balance)
                assert api.income(clientid, year) == cents(c.years[year].income)
                if rng.random() < 0.2:
                    got = api.client(clientid, "by_month")
                    assert got == expected_client(clientid, c, "by_month")
        except BaseException as exc:  # collected and re-raised in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert failures == []


def test_public_surface() -> None:
    assert contabyx.ContabyxAPI is contabyx.contabyxAPI
    assert issubclass(ClientNotFound, LookupError) and issubclass(ClientNotFound, ContabyxError)
    for name in ("TableNotFound", "AccessDenied", "Throttled", "CredentialsError", "ServiceError"):
        assert issubclass(getattr(contabyx, name), ContabyxError)
    assert set(contabyx.__all__) <= set(dir(contabyx))

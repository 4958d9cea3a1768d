"""Secrets and exposure.

Sentinel AWS keys, a sentinel session token and a sentinel database password are
given to every part of the product (the sync in-process, ``contabyx-etl``,
``contabyxAPI``, ``contabyx``), on successful and on failing paths. None of them
may show in an exception (str, repr, chained causes, traceback), a repr, a log
record (DEBUG included, botocore's and redshift_connector's loggers included) or
a command's output. At DEBUG, botocore's own request dump would show the access
key id (in ``Authorization``) and the session token (``X-Amz-Security-Token``):
``contabyx.redact`` masks them, and a test here holds it to that.

Also: every local server of ours binds the loopback interface only;
``config/.env`` is git-ignored; configuration names spliced into SQL are plain
identifiers (checked with Hypothesis), and every value goes to the Data API as a
bound parameter.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from dotenv import dotenv_values
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contabyx import contabyxAPI
from contabyx.errors import ConfigurationError, ConnectionFailed, TableNotFound
from devstack.dataapi import DataApiServer
from devstack.faults import FaultProxy, Faults
from devstack.paths import REPO_ROOT, python_env
from devstack.procs import free_port
from devstack.seed import seed
from dynamo.config import SECRET_KEYS, ConfigError, load_settings
from dynamo.extract import ExtractError, open_source
from dynamo.extract.data_api import DataApiSource
from dynamo.extract.direct import DirectSource
from dynamo.query import Insert
from dynamo.sync import plan_ranges
from dynamo.tables import create_tables
from dynamo.views import create_views, render_views
from tests.devstack.test_stack import _LISTEN, _LOOPBACK_HEX
from tests.support.expected import from_warehouse
from tests.support.settings import settings_of

ACCESS_KEY = "AKIASENTINEL000001"
SECRET_KEY = "sentinel-secret-key-XYZ"
SESSION_TOKEN = "sentinel-session-token-RTY"
DB_PASSWORD = "sentinel-db-password-QWE"
#: Never anywhere, at any log level, botocore's own DEBUG request dump included.
SENTINELS = (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, DB_PASSWORD)

TABLES = {"clients_info_table": "sec_ci", "clients_info_by_year_table": "sec_ciby"}
ENV_TABLES = {
    "CLIENTS_INFO_TABLE": "sec_ci",
    "CLIENTS_INFO_BY_YEAR_TABLE": "sec_ciby",
    "SYNC_TABLE": "sec_sync",
}
MISSING = {"clients_info_table": "sec_missing_ci", "clients_info_by_year_table": "sec_missing_y"}
#: The regex the brief gives for names spliced into SQL, as a full match.
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?"
SENTINEL_ENV = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_SESSION_TOKEN": SESSION_TOKEN,
    "REDSHIFT_PASSWORD": DB_PASSWORD,
}
VERBOSE_LOGGERS = ("", "botocore", "boto3", "urllib3", "redshift_connector", "dynamo", "contabyx")


# --------------------------------------------------------------------------- helpers


def found(text: str, sentinels: Iterable[str] = SENTINELS) -> list[str]:
    """The sentinels that occur in ``text``."""
    return [s for s in sentinels if s in text]


def exception_texts(exc: BaseException) -> str:
    """str and repr of ``exc`` and of every exception chained to it (cause or context,
    suppressed or not), its args, and the traceback as Python prints it."""
    parts: list[str] = []
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        parts += [str(current), repr(current), repr(current.args)]
        pending += [current.__cause__, current.__context__]
    parts += traceback.format_exception(type(exc), exc, exc.__traceback__)
    return "\n".join(parts)


def record_texts(records: Iterable[logging.LogRecord]) -> Iterator[tuple[logging.LogRecord, str]]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in records:
        yield record, formatter.format(record)


def debug_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    for name in VERBOSE_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name or None)


def assert_logs_clean(records: list[logging.LogRecord]) -> None:
    """No sentinel in any record, at any level, botocore's request dumps included."""
    assert records, "nothing was logged: the capture is not working"
    leaks = [text[:300] for _, text in record_texts(records) if found(text)]
    assert not leaks, leaks[:5]


@pytest.fixture
def sentinel_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    """The sentinels in the environment; no config/.env of the machine is read."""
    for key, value in SENTINEL_ENV.items():
        monkeypatch.setenv(key, value)
    empty = tmp_path / "empty.env"
    empty.write_text("")
    monkeypatch.setenv("CONTABYX_ENV_FILE", str(empty))
    return {**SENTINEL_ENV, "CONTABYX_ENV_FILE": str(empty)}


@pytest.fixture(scope="module")
def clientids(local_stack: Any, warehouse: Any) -> list[int]:
    """A small seeded warehouse, its views, and fresh tables of this module's own."""
    seed(local_stack.conninfo, clients=60, seed=31, years=(2020, 2023))
    ids = sorted(from_warehouse(warehouse))
    create_views(open_source(settings_of(local_stack.env)), late_binding=False)
    client = boto3.client("dynamodb")
    existing = set(client.list_tables()["TableNames"])
    for name in (*TABLES.values(), ENV_TABLES["SYNC_TABLE"]):
        if name in existing:  # a stack reused from an earlier run
            client.delete_table(TableName=name)
            client.get_waiter("table_not_exists").wait(
                TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
            )
    create_tables(client, *TABLES.values(), sync_table=ENV_TABLES["SYNC_TABLE"])
    return ids


def run_cli(
    module: str, *args: str, env: dict[str, str], log_level: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m module ARGS`` as an operator runs it, with ``env`` over the stack's."""
    full = {**python_env(), **env}
    full.pop("LOG_LEVEL", None)
    if log_level is not None:
        full["LOG_LEVEL"] = log_level
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        env=full,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )


# --------------------------------------------------------------------------- reprs


def test_reprs_hold_no_secret(sentinel_env: dict[str, str], local_stack: Any) -> None:
    insert = Insert(redshift_password=DB_PASSWORD, **TABLES)
    direct = DirectSource(host="127.0.0.1", port=5439, password=DB_PASSWORD, ssl=False)
    data_api = DataApiSource.from_settings(insert.settings)
    api = contabyxAPI(
        ACCESS_KEY, SECRET_KEY, aws_session_token=SESSION_TOKEN, region_name="us-east-1", **TABLES
    )
    try:
        shown = {
            "Insert": repr(insert),
            "Settings": repr(insert.settings),
            "Settings str": str(insert.settings),
            "DataApiSource": repr(data_api),
            "Insert.source": repr(insert.source),
            "DirectSource": repr(direct),
            "contabyxAPI": repr(api),
            "contabyxAPI vars": repr(vars(api)),
        }
        assert insert.settings.redshift_password == DB_PASSWORD  # it is there, just not shown
        for what, text in shown.items():
            assert not found(text), (what, text)
    finally:
        api.close()
        direct.close()
        insert.close()


def test_configuration_errors_hold_no_secret(sentinel_env: dict[str, str]) -> None:
    failures: list[BaseException] = []
    for overrides in (
        {"workers": 0},
        {"redshift_port": "not a port"},
        {"source": "nowhere"},
        {"views_schema": "x; DROP TABLE y"},
        {"no_such_setting": 1},
    ):
        with pytest.raises((ConfigError, TypeError)) as info:
            Insert(redshift_password=DB_PASSWORD, **overrides)
        failures.append(info.value)
    with pytest.raises(ConfigError) as info:
        Insert(source="direct", redshift_host="", redshift_password=DB_PASSWORD).source  # noqa: B018
    failures.append(info.value)
    with pytest.raises(ConfigurationError) as api_info:
        contabyxAPI(
            ACCESS_KEY, SECRET_KEY, aws_session_token=SESSION_TOKEN, region_name="no such region!"
        )
    failures.append(api_info.value)
    for failure in failures:
        assert not found(exception_texts(failure)), exception_texts(failure)


# --------------------------------------------------------------------------- logs


def test_a_data_api_sync_with_sentinel_keys_logs_no_secret(
    clientids: list[int], sentinel_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    debug_everywhere(caplog)
    with Insert(redshift_password=DB_PASSWORD, **TABLES) as insert:
        info = insert.clients_info(entries=10)
        by_year = insert.clients_info_by_month(entries=10)
        insert.source_rejects()
        shown = repr(insert) + repr(insert.settings) + repr(info) + repr(by_year)
    assert info.clientids == by_year.clientids == clientids[:10]
    assert not found(shown), shown
    assert any(r.name.startswith("botocore") for r in caplog.records), "botocore is not captured"
    assert_logs_clean(caplog.records)
    # At INFO and above (the cron job's level), not even the access key id.
    loud = [t for r, t in record_texts(caplog.records) if r.levelno >= logging.INFO and found(t)]
    assert not loud, loud[:5]


def test_debug_logs_hold_no_access_key_id_or_session_token(
    clientids: list[int], sentinel_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    debug_everywhere(caplog)
    with Insert(**TABLES) as insert:
        insert.clients_info(entries=1)
    leaks = [t[:300] for _, t in record_texts(caplog.records) if found(t)]
    assert not leaks, leaks[:3]


def test_a_direct_sync_with_a_password_logs_it_nowhere(
    clientids: list[int], sentinel_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    debug_everywhere(caplog)
    # The local wire endpoint declines SSL, as a PostgreSQL stand-in for Redshift does.
    with Insert(
        source="direct", redshift_ssl=False, redshift_password=DB_PASSWORD, **TABLES
    ) as insert:
        result = insert.clients_info(entries=5)
        shown = repr(insert) + repr(insert.source)
    assert result.clientids == clientids[:5]
    assert not found(shown)
    assert any(r.name.startswith("redshift_connector") for r in caplog.records)
    assert_logs_clean(caplog.records)


# --------------------------------------------------------------------------- failures


def direct_failures() -> dict[str, dict[str, Any]]:
    """Settings that make the direct source fail: a closed port, then the stack's wire
    endpoint (REDSHIFT_HOST/PORT from the environment) with SSL or a database it lacks."""
    return {
        "connection refused": {"redshift_host": "127.0.0.1", "redshift_port": free_port()},
        "SSL refused by the wire endpoint": {"redshift_ssl": True},
        "unknown database": {"redshift_ssl": False, "database": "no_such_db"},
    }


@pytest.mark.filterwarnings("ignore::DeprecationWarning:redshift_connector.*")
@pytest.mark.parametrize(
    "case", ["connection refused", "SSL refused by the wire endpoint", "unknown database"]
)
def test_direct_source_failures_hold_no_password(
    case: str,
    local_stack: Any,
    clientids: list[int],
    sentinel_env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    debug_everywhere(caplog)
    overrides = direct_failures()[case]
    with (
        pytest.raises(ExtractError) as info,
        Insert(source="direct", redshift_password=DB_PASSWORD, **TABLES, **overrides) as insert,
    ):
        insert.clients_info(entries=3)
    text = exception_texts(info.value)
    assert "direct connection to 127.0.0.1:" in str(info.value)
    assert not found(text), text
    assert_logs_clean(caplog.records)


def test_api_failures_hold_no_key(
    local_stack: Any, sentinel_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    debug_everywhere(caplog)
    failures: list[BaseException] = []
    api = contabyxAPI(ACCESS_KEY, SECRET_KEY, aws_session_token=SESSION_TOKEN, **MISSING)
    with api:
        for call in (
            lambda: api.balance(1001),
            lambda: api.income(1001, 2021),
            lambda: api.expense(1001, 2021, 6),
            lambda: api.client(1001, "by_month"),
            lambda: api.clients([1001, 1002], "by_year"),
        ):
            with pytest.raises(TableNotFound) as info:
                call()
            failures.append(info.value)
        assert not found(repr(api) + repr(vars(api)))
    closed = f"http://127.0.0.1:{free_port()}"
    one_try = Config(retries={"mode": "standard", "total_max_attempts": 1})
    with contabyxAPI(
        ACCESS_KEY,
        SECRET_KEY,
        aws_session_token=SESSION_TOKEN,
        endpoint_url=closed,
        config=one_try,
        **TABLES,
    ) as unreachable:
        with pytest.raises(ConnectionFailed) as refused:
            unreachable.balance(1001)
        failures.append(refused.value)
    for failure in failures:
        text = exception_texts(failure)
        assert not found(text), text
    assert_logs_clean(caplog.records)


# --------------------------------------------------------------------------- commands


def test_etl_run_json_on_the_data_api_prints_no_secret(
    clientids: list[int], sentinel_env: dict[str, str]
) -> None:
    env = {**sentinel_env, **ENV_TABLES}
    for level in (None, "INFO"):
        done = run_cli("dynamo.cli", "run", "--json", "--entries", "15", env=env, log_level=level)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["tables"]["sec_ci"]["items"] == 15
        assert not found(done.stdout + done.stderr), (level, done.stderr[-2000:])
    # At DEBUG botocore dumps every request, its credentials masked.
    debug = run_cli(
        "dynamo.cli", "--log-level", "DEBUG", "run", "--json", "--entries", "5", env=env
    )
    assert debug.returncode == 0, debug.stderr[-2000:]
    assert "botocore" in debug.stderr and "Credential=***/" in debug.stderr
    assert not found(debug.stdout + debug.stderr)


@pytest.mark.parametrize(
    "case", ["connection refused", "SSL refused by the wire endpoint", "unknown database"]
)
def test_etl_run_failing_on_the_direct_source_prints_no_secret(
    case: str, local_stack: Any, clientids: list[int], sentinel_env: dict[str, str]
) -> None:
    overrides = {k.upper(): str(v) for k, v in direct_failures()[case].items()}
    env = {**sentinel_env, **ENV_TABLES, "SOURCE": "direct", **overrides}
    done = run_cli("dynamo.cli", "run", "--json", env=env)
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "direct connection to 127.0.0.1:" in done.stderr
    assert not found(done.stderr), done.stderr
    debug = run_cli("dynamo.cli", "--log-level", "DEBUG", "run", "--json", env=env)
    assert debug.returncode == 1
    assert not found(debug.stdout + debug.stderr), debug.stderr[-2000:]
    # The failed runs' records keep their error lines, and no secret.
    pages = boto3.client("dynamodb").get_paginator("scan").paginate(TableName="sec_sync")
    records = [item for page in pages for item in page["Items"]]
    assert any("direct connection to 127.0.0.1:" in str(item) for item in records)
    assert not found(json.dumps(records)), records


def test_contabyx_cli_prints_no_secret(clientids: list[int], sentinel_env: dict[str, str]) -> None:
    with Insert(**TABLES) as insert:
        insert.clients_info(entries=3)
        insert.clients_info_by_month(entries=3)
    tables = ["--clients-info-table", "sec_ci", "--clients-info-by-year-table", "sec_ciby"]
    missing = ["--clients-info-table", "sec_missing_ci", "--clients-info-by-year-table", "sec_m_y"]
    closed = ["--endpoint-url", f"http://127.0.0.1:{free_port()}"]
    known = str(clientids[0])
    cases = [
        (0, [*tables, "balance", known]),
        (0, [*tables, "income", known, "--year", "2021"]),
        (0, [*tables, "client", known, "--by", "month"]),
        (2, [*tables, "balance", str(clientids[-1] + 1000)]),
        (1, [*missing, "expense", known]),
        (1, [*closed, *tables, "balance", known]),
    ]
    for status, argv in cases:
        done = run_cli("contabyx.cli", *argv, env=sentinel_env)
        assert done.returncode == status, (argv, done.stderr)
        assert not found(done.stdout + done.stderr), (argv, done.stdout, done.stderr)


# --------------------------------------------------------------------------- loopback


def listening_addresses(port: int) -> list[str]:
    """The local addresses (hex, as /proc/net/tcp* writes them) listening on ``port``."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, state = fields[1], fields[3]
            host, _, port_hex = address.rpartition(":")
            if state == _LISTEN and int(port_hex, 16) == port:
                out.append(host)
    return out


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_the_fault_proxy_listens_on_loopback_only(local_stack: Any) -> None:
    upstream = local_stack.env["AWS_ENDPOINT_URL_DYNAMODB"]
    with FaultProxy(upstream, Faults(seed=1)) as proxy:
        assert proxy.url.startswith("http://127.0.0.1:")
        addresses = listening_addresses(proxy.port)
        assert addresses, "the proxy listens nowhere?"
        assert set(addresses) <= _LOOPBACK_HEX, addresses
        client = boto3.client("dynamodb", endpoint_url=proxy.url)
        assert "sec_ci" in client.list_tables()["TableNames"]
    for host in ("0.0.0.0", "::", "", "192.0.2.1", "example.com"):
        with pytest.raises(ValueError, match="loopback"):
            FaultProxy(upstream, host=host)
    for bad_upstream in ("http://192.0.2.1:8000", "https://127.0.0.1:8000"):
        with pytest.raises(ValueError, match="loopback"):
            FaultProxy(bad_upstream)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_the_data_api_emulator_listens_on_loopback_only(local_stack: Any) -> None:
    # The stack's own emulator...
    port = int(local_stack.env["AWS_ENDPOINT_URL_REDSHIFT_DATA"].rsplit(":", 1)[1])
    addresses = listening_addresses(port)
    assert addresses and set(addresses) <= _LOOPBACK_HEX, addresses
    # ...and one made in-process, which refuses any other address.
    with DataApiServer(local_stack.conninfo, port=0, page_size=10) as server:
        assert server.host == "127.0.0.1"
        addresses = listening_addresses(server.port)
        assert addresses and set(addresses) <= _LOOPBACK_HEX, addresses
    for host in ("0.0.0.0", "::", "", "192.0.2.1", "example.com"):
        with pytest.raises(ValueError, match="loopback"):
            DataApiServer(local_stack.conninfo, host=host, port=0)


# --------------------------------------------------------------------------- repository


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_config_env_is_git_ignored_and_its_example_is_tracked() -> None:
    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )

    if git("rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip("not a git checkout")
    assert git("check-ignore", "-q", "config/.env").returncode == 0
    assert git("ls-files", "config/.env").stdout == ""
    assert git("ls-files", "--error-unmatch", "config/.env.example").returncode == 0
    assert git("check-ignore", "-q", "config/.env.example").returncode == 1
    example = dotenv_values(REPO_ROOT / "config" / ".env.example")
    assert not [key for key in SECRET_KEYS if example.get(key)], "a secret in the example"


# --------------------------------------------------------------------------- SQL


def schema_names() -> st.SearchStrategy[str]:
    """Arbitrary text, plain identifiers, and identifiers with a little SQL around them."""
    identifiers = st.from_regex(IDENTIFIER, fullmatch=True)
    noise = st.sampled_from([";", "'", '"', " ", "\n", "-", "--", ".", "/*", "\t", "é", "\0"])
    return st.one_of(
        st.text(max_size=40),
        identifiers,
        st.builds(lambda a, n, b: a + n + b, identifiers, noise, st.text(max_size=8)),
        st.builds(lambda n, a: n + a, noise, identifiers),
    )


def is_identifier(text: str) -> bool:
    return re.fullmatch(IDENTIFIER, text) is not None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=schema_names())
def test_load_settings_takes_only_plain_identifiers_as_views_schema(name: str) -> None:
    # Values are trimmed as any setting is (a dotenv line may end in blanks): what is
    # accepted is exactly the trimmed text, and only when it is an identifier.
    nowhere = Path("/nonexistent/contabyx.env")
    try:
        got = load_settings({"views_schema": name}, env_file=nowhere, environ={})
    except ConfigError:
        assert not is_identifier(name.strip()), name
    else:
        assert is_identifier(name.strip()), name
        assert got.views_schema == name.strip() and is_identifier(got.views_schema)
    if "\0" not in name and name:  # the same through the environment
        try:
            got = load_settings(env_file=nowhere, environ={"VIEWS_SCHEMA": name})
        except ConfigError:
            assert not is_identifier(name.strip()), name
        else:
            assert is_identifier(got.views_schema), name


@settings(max_examples=400, deadline=None)
@given(name=schema_names())
def test_render_views_takes_only_plain_identifiers(name: str) -> None:
    for kwargs in ({"spectrum_schema": name}, {"views_schema": name}):
        try:
            statements = render_views(late_binding=False, **kwargs)
        except ConfigError:
            assert not is_identifier(name), (kwargs, name)
        else:
            assert is_identifier(name), (kwargs, name)
            assert all(name in s for s in statements)


def test_a_trailing_newline_is_no_identifier() -> None:
    with pytest.raises(ConfigError):
        render_views(spectrum_schema="ext_contabyx\n")


def test_every_value_of_a_sync_is_a_data_api_parameter(
    clientids: list[int], sentinel_env: dict[str, str]
) -> None:
    entries, chunk = 20, 7
    requests: list[dict[str, Any]] = []
    lock = threading.Lock()

    def remember(params: dict[str, Any], **_: Any) -> None:
        body = params.get("body")
        request = json.loads(body) if isinstance(body, (bytes, str)) else body
        with lock:
            requests.append(request)

    with Insert(chunk_clients=chunk, **TABLES) as insert:
        client = insert.source.client  # type: ignore[attr-defined]
        client.meta.events.register("before-call.redshift-data.ExecuteStatement", remember)
        info = insert.clients_info(entries=entries)
        by_year = insert.clients_info_by_month(entries=entries)
    assert info.clientids == by_year.clientids == clientids[:entries]

    lowest = clientids[:entries]
    bounds = [lowest[i - 1] for i in range(chunk, entries + 1, chunk)]
    if bounds[-1] != lowest[-1]:
        bounds.append(lowest[-1])
    want_ranges = sorted(plan_ranges(bounds))
    assert len(requests) == 2 * (1 + len(want_ranges))
    digits = {str(c) for c in lowest} | {str(b) for r in want_ranges for b in r}
    plans, ranges = [], []
    for request in requests:
        sql = request["Sql"]
        values = {p["name"]: p["value"] for p in request.get("Parameters", [])}
        assert values, f"a statement without parameters: {sql}"
        assert all(isinstance(v, str) for v in values.values())
        spliced = [d for d in digits | set(values.values()) if d in sql]
        assert not spliced, (spliced, sql)
        for name in values:
            assert f":{name}" in sql, (name, sql)
        if set(values) == {"limit", "chunk"}:
            plans.append(values)
        else:
            assert set(values) == {"low", "high"}, values
            ranges.append((int(values["low"]), int(values["high"])))
    assert plans == [{"limit": str(entries), "chunk": str(chunk)}] * 2
    assert sorted(ranges) == sorted(want_ranges * 2)

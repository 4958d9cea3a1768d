"""The IAM policies grant every action AWS checks for the code's calls, and nothing more.

The calls are found in the source itself: every method of a boto3 client that is an
operation of the service model, every paginator and every waiter, in the modules that
ship (the sync, ``dynamo``, and the client library, ``contabyx``). Every AWS call lives
in one known module, which says which service it talks to.

IAM does not authorise operations but actions, named in AWS's Service Authorization
Reference (copied in :mod:`tests.support.iam_actions`). Most actions share their
operation's name; ``OPERATION_ACTIONS`` lists the ones that do not. Some actions are
checked on calls the code never makes itself: the Data API fetches credentials on the
caller's behalf, and redshift_connector calls the Redshift API with IAM. ``MODES`` lists
those for each way in, and each statement of the sync's policy says in its Sid which
ways in need it (``...For<Mode>And<Mode>``).
"""

from __future__ import annotations

import ast
import functools
import inspect
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import botocore.session
import pytest
import redshift_connector.iam_helper
from botocore import xform_name
from redshift_connector.redshift_property import RedshiftProperty

from dynamo import metrics
from dynamo.config import Settings
from dynamo.extract import ExtractError
from dynamo.extract.data_api import DataApiSource
from dynamo.extract.direct import DirectSource
from tests.conftest import LocalStack
from tests.support.iam_actions import is_real
from tests.support.settings import settings_of

ROOT = Path(__file__).resolve().parents[1]

#: What a waiter calls: table_exists polls DescribeTable.
WAITERS = {"table_exists": "DescribeTable", "table_not_exists": "DescribeTable"}

#: Operations authorised by an action of another name (Service Authorization Reference,
#: "API operations" table of redshift-data; the Data API guide says the same).
OPERATION_ACTIONS = {"redshift-data:GetStatementResultV2": "redshift-data:GetStatementResult"}

#: The modules that call AWS, and the service each one calls. Nothing else may.
CALLERS = {
    "dynamo/extract/data_api.py": "redshift-data",
    "dynamo/load.py": "dynamodb",
    "dynamo/tables.py": "dynamodb",
    "dynamo/prune.py": "dynamodb",
    "dynamo/verify.py": "dynamodb",
    "dynamo/runs.py": "dynamodb",
    "dynamo/metrics.py": "cloudwatch",
    "contabyx/api.py": "dynamodb",
}
#: Every service some module calls.
SERVICES = frozenset(CALLERS.values())

#: Each way into the warehouse: its source, the Sid tokens of the statements it uses,
#: and the actions AWS checks on calls our code does not make itself.
#: - Data API with CLUSTER + DBUSER: the Data API calls GetClusterCredentials for DBUSER.
#: - Data API with SECRET_ARN: it reads the secret (GetSecretValue).
#: - Data API with WORKGROUP: it calls redshift-serverless GetCredentials; with
#:   WORKGROUP and SECRET_ARN it reads the secret instead.
#: - direct with REDSHIFT_IAM: redshift_connector calls GetClusterCredentials (not
#:   ...WithIAM: we leave its group_federation off) and, with no REDSHIFT_HOST,
#:   DescribeClusters to find the endpoint.
MODES: dict[str, tuple[str, set[str], set[str]]] = {
    "data-api cluster+dbuser": (
        "data-api",
        {"ClusterMode", "EveryDataApiMode", "EveryMode"},
        {"redshift:GetClusterCredentials"},
    ),
    "data-api secret": (
        "data-api",
        {"SecretMode", "EveryDataApiMode", "EveryMode"},
        {"secretsmanager:GetSecretValue"},
    ),
    "data-api workgroup": (
        "data-api",
        {"WorkgroupMode", "EveryDataApiMode", "EveryMode"},
        {"redshift-serverless:GetCredentials"},
    ),
    "data-api workgroup+secret": (
        "data-api",
        {"WorkgroupSecretMode", "EveryDataApiMode", "EveryMode"},
        {"secretsmanager:GetSecretValue"},
    ),
    "direct password": ("direct", {"EveryMode"}, set()),
    "direct iam with host": (
        "direct",
        {"DirectIamMode", "EveryMode"},
        {"redshift:GetClusterCredentials"},
    ),
    "direct iam without host": (
        "direct",
        {"DirectIamMode", "DirectIamNoHostMode", "EveryMode"},
        {"redshift:GetClusterCredentials", "redshift:DescribeClusters"},
    ),
}


def _operations(service: str) -> dict[str, str]:
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def action(service: str, operation: str) -> str:
    """The IAM action that authorises ``operation`` of ``service``.

    >>> action("redshift-data", "GetStatementResultV2")
    'redshift-data:GetStatementResult'
    """
    name = f"{service}:{operation}"
    return OPERATION_ACTIONS.get(name, name)


def _calls_in(tree: ast.AST, names: set[str]) -> set[str]:
    calls: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        if name in ("get_paginator", "get_waiter") and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                name = WAITERS.get(arg.value) or arg.value
                name = xform_name(name) if name[0].isupper() else name
        if name in names:
            calls.add(name)
    return calls


def calls_by_module(package: str) -> dict[str, set[str]]:
    """For each module of ``package``: the operations of any service in CALLERS it calls."""
    names = set().union(*(_operations(service) for service in SERVICES))
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        calls = _calls_in(ast.parse(path.read_text(), str(path)), names)
        if calls:
            out[path.relative_to(ROOT).as_posix()] = calls
    return out


@functools.cache  # parsing every module is slow; the code does not change
def actions_called(package: str) -> frozenset[str]:
    """The IAM actions of every operation the modules of ``package`` call."""
    found: set[str] = set()
    for module, calls in calls_by_module(package).items():
        service = CALLERS[module]
        operations = _operations(service)
        found.update(action(service, operations[name]) for name in calls)
    return frozenset(found)


def statements(policy: str) -> list[dict[str, Any]]:
    document = json.loads((ROOT / "config" / "iam" / policy).read_text())
    out: list[dict[str, Any]] = document["Statement"]
    for statement in out:
        assert statement["Effect"] == "Allow"
        assert "*" not in "".join(_actions(statement)), "no wildcard actions"
    return out


def _actions(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def granted(policy: str) -> set[str]:
    return set().union(*(_actions(statement) for statement in statements(policy)))


def _modes_of(statement: dict[str, Any]) -> set[str]:
    """``WriteTheTwoTablesForEveryMode`` -> {"EveryMode"}."""
    _, _, modes = statement["Sid"].partition("For")
    assert modes, f"Sid {statement['Sid']} does not say which ways in need it"
    return set(modes.split("And"))


def needed(mode: str) -> set[str]:
    """Every action the sync needs when it reads the warehouse this way."""
    source, _, implied = MODES[mode]
    called = actions_called("dynamo")
    if source == "direct":  # the direct source makes no Data API call
        called = {name for name in called if not name.startswith("redshift-data:")}
    return called | implied


# --------------------------------------------------------------------------- the code


def test_aws_is_called_only_from_the_known_modules() -> None:
    modules = set(calls_by_module("dynamo")) | set(calls_by_module("contabyx"))
    assert modules <= set(CALLERS), modules - set(CALLERS)


def test_every_operation_the_code_calls_maps_to_a_real_action() -> None:
    called = actions_called("dynamo") | actions_called("contabyx")
    assert "redshift-data:GetStatementResult" in called
    assert {name for name in called if not is_real(name)} == set()


def test_the_data_api_ways_in_send_what_the_modes_assume() -> None:
    """The Data API fetches credentials from what the request names: DbUser means
    GetClusterCredentials, SecretArn the secret, WorkgroupName serverless credentials."""
    base = {"AWS_REGION": "eu-west-1"}
    targets = {
        "data-api cluster+dbuser": {"CLUSTER": "c", "DBUSER": "u"},
        "data-api secret": {"CLUSTER": "c", "SECRET_ARN": "arn:aws:secretsmanager:x"},
        "data-api workgroup": {"WORKGROUP": "w"},
        "data-api workgroup+secret": {"WORKGROUP": "w", "SECRET_ARN": "arn:aws:secretsmanager:x"},
    }
    keys = {}
    for mode, settings in targets.items():
        source = DataApiSource.from_settings(settings_of({**base, **settings}))
        keys[mode] = set(source._target) - {"Database"}
        source.close()
    assert keys == {
        "data-api cluster+dbuser": {"ClusterIdentifier", "DbUser"},
        "data-api secret": {"ClusterIdentifier", "SecretArn"},
        "data-api workgroup": {"WorkgroupName"},
        "data-api workgroup+secret": {"WorkgroupName", "SecretArn"},
    }


def test_the_direct_source_with_iam_makes_the_driver_call_what_the_modes_assume() -> None:
    """redshift_connector, given IAM and no host, finds the endpoint with DescribeClusters,
    then fetches credentials with GetClusterCredentials unless group_federation is on."""
    source = DirectSource.from_settings(
        Settings(redshift_iam=True, cluster="c", dbuser="u", aws_region="eu-west-1")
    )
    options = source._DirectSource__options  # type: ignore[attr-defined]
    assert options["iam"] is True and "host" not in options
    assert "group_federation" not in options and RedshiftProperty().group_federation is False

    # Which method makes which call moved between driver versions (2.0.909 finds the
    # host inside set_cluster_credentials): look for the calls anywhere in the helper.
    helper = redshift_connector.iam_helper.IamHelper
    redshift = _operations("redshift")
    tree = ast.parse(inspect.getsource(helper))
    called = {redshift[name] for name in _calls_in(tree, set(redshift))}
    assert {"DescribeClusters", "GetClusterCredentials"} <= called
    assert helper.GetClusterCredentialsAPIType.IAM_V1.value == "get_cluster_credentials()"


# --------------------------------------------------------------------------- the policies


def test_every_action_the_policies_name_is_a_real_iam_action() -> None:
    for policy in ("etl-policy.json", "api-policy.json"):
        unknown = {name for name in granted(policy) if not is_real(name)}
        assert unknown == set(), f"{policy} names actions IAM does not know: {unknown}"


def test_each_way_in_is_granted_everything_it_needs() -> None:
    for mode, (_, tokens, _) in MODES.items():
        mine = [s for s in statements("etl-policy.json") if _modes_of(s) & tokens]
        allowed = set().union(*(_actions(statement) for statement in mine))
        assert needed(mode) - allowed == set(), mode


def test_each_statement_grants_only_what_its_ways_in_need() -> None:
    tokens_of_modes = {mode: tokens for mode, (_, tokens, _) in MODES.items()}
    known = set().union(*tokens_of_modes.values())
    for statement in statements("etl-policy.json"):
        modes = _modes_of(statement)
        assert modes <= known, f"{statement['Sid']}: unknown ways in {modes - known}"
        users = [mode for mode, tokens in tokens_of_modes.items() if modes & tokens]
        useful = set().union(*(needed(mode) for mode in users))
        assert _actions(statement) - useful == set(), statement["Sid"]


def test_the_sync_policy_grants_exactly_what_some_way_in_needs() -> None:
    called = actions_called("dynamo")
    assert "dynamodb:BatchWriteItem" in called and "redshift-data:ExecuteStatement" in called
    assert granted("etl-policy.json") == set().union(*(needed(mode) for mode in MODES))


def test_workgroup_mode_names_a_workgroup_and_cluster_mode_a_cluster() -> None:
    workgroup = "arn:aws:redshift-serverless:REGION:ACCOUNT_ID:workgroup/WORKGROUP_ID"
    cluster = "arn:aws:redshift:REGION:ACCOUNT_ID:cluster:CLUSTER"
    by_sid = {s["Sid"]: s for s in statements("etl-policy.json")}
    for sid, statement in by_sid.items():
        if "redshift-data:ExecuteStatement" in _actions(statement):
            expected = workgroup if "WorkgroupMode" in _modes_of(statement) else cluster
            assert statement["Resource"] == expected, sid
        if "redshift-serverless:GetCredentials" in _actions(statement):
            assert statement["Resource"] == workgroup, sid


def test_the_client_policy_grants_exactly_what_the_client_calls() -> None:
    called = actions_called("contabyx")
    assert "dynamodb:GetItem" in called
    assert granted("api-policy.json") == called


def test_policies_name_only_their_tables() -> None:
    """The applications read the two tables; the sync also keeps its lease and run
    records in its own table, and only there does it put, get, delete and query items."""
    owned = {"etl-policy.json": {"contabyx_sync"}, "api-policy.json": set()}
    for policy, own in owned.items():
        text = (ROOT / "config" / "iam" / policy).read_text()
        tables = {part.split('"')[0] for part in text.split(":table/")[1:]}
        assert tables == {"clients_info", "clients_info_by_year"} | own
    item_calls = {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:Query"}
    for statement in statements("etl-policy.json"):
        if _actions(statement) & item_calls:
            assert statement["Resource"].endswith(":table/contabyx_sync"), statement["Sid"]


def test_metrics_may_go_to_the_recommended_namespace_only() -> None:
    """PutMetricData takes no resource ARN; the namespace condition is what narrows it,
    to the namespace the template's alarms read by default (dynamo.metrics)."""
    [statement] = [
        s for s in statements("etl-policy.json") if "cloudwatch:PutMetricData" in _actions(s)
    ]
    assert statement["Sid"] == "PublishRunMetricsForEveryMode"
    assert statement["Resource"] == "*"
    assert statement["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": metrics.DEFAULT_NAMESPACE}
    }


# --------------------------------------------------------------------------- the driver, run


class _RedshiftApi(ThreadingHTTPServer):
    """A stand-in for the Redshift API's query protocol: answers DescribeClusters with
    the test stack's wire endpoint and GetClusterCredentials with its user, and records
    every Action it is asked for."""

    def __init__(self, wire_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _RedshiftApiHandler)
        self.wire_port = wire_port
        self.actions: list[str] = []


class _RedshiftApiHandler(BaseHTTPRequestHandler):
    server: _RedshiftApi

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        name = parse_qs(body).get("Action", [""])[0]
        self.server.actions.append(name)
        results = {
            "DescribeClusters": "<Clusters><Cluster><ClusterIdentifier>c</ClusterIdentifier>"
            f"<Endpoint><Address>127.0.0.1</Address><Port>{self.server.wire_port}</Port>"
            "</Endpoint></Cluster></Clusters>",
            "GetClusterCredentials": "<DbUser>awsuser</DbUser><DbPassword>x</DbPassword>"
            "<Expiration>2099-01-01T00:00:00Z</Expiration>",
        }
        if name not in results:
            self.send_response(400)
            self.end_headers()
            return
        xml = (
            f'<{name}Response xmlns="http://redshift.amazonaws.com/doc/2012-12-01/">'
            f"<{name}Result>{results[name]}</{name}Result>"
            f"<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></{name}Response>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(xml)))
        self.end_headers()
        self.wfile.write(xml)

    def log_message(self, *args: Any) -> None:  # quiet
        pass


# The driver builds its TLS context with a call Python deprecates; not ours to fix.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_driver_with_iam_and_no_host_calls_exactly_what_the_mode_grants(
    local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """redshift_connector, run: with REDSHIFT_IAM and no REDSHIFT_HOST it asks the Redshift
    API for the endpoint and for credentials before it connects; the policy grants both.

    The driver insists on TLS with IAM, which the local wire endpoint declines, so the
    connection itself fails here: what is checked is what was asked of the API first."""
    server = _RedshiftApi(int(local_stack.env["REDSHIFT_PORT"]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_REDSHIFT", f"http://127.0.0.1:{server.server_port}")
    settings = {
        "REDSHIFT_IAM": "true",
        "CLUSTER": f"c{uuid.uuid4().hex[:8]}",  # the driver caches credentials per cluster
        "DBUSER": "awsuser",
        "DATABASE": local_stack.env["DATABASE"],
        "AWS_REGION": local_stack.env["AWS_REGION"],
    }
    try:
        with (
            DirectSource.from_settings(settings_of(settings)) as source,
            pytest.raises(ExtractError),
        ):
            list(source.rows("SELECT 1"))
    finally:
        server.shutdown()
        server.server_close()
    called = {action("redshift", name) for name in server.actions}
    assert called == {"redshift:DescribeClusters", "redshift:GetClusterCredentials"}
    assert called <= MODES["direct iam without host"][2]

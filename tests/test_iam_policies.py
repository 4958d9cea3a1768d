"""The IAM policies grant every AWS action the code calls, and nothing more.

The calls are found in the source itself: every method of a boto3 client that is
an operation of the service model, every paginator and every waiter, in the
modules that ship (the sync, ``dynamo``, and the client library, ``contabyx``).
Every AWS call lives in one known module, which says which service it talks to.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import botocore.session
from botocore import xform_name

ROOT = Path(__file__).resolve().parents[1]

#: Credentials the Data API fetches on the caller's behalf, one per way in.
IMPLIED = {"redshift:GetClusterCredentials", "secretsmanager:GetSecretValue"}
#: What a waiter calls: table_exists polls DescribeTable.
WAITERS = {"table_exists": "DescribeTable", "table_not_exists": "DescribeTable"}


def _operations(service: str) -> dict[str, str]:
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


#: The modules that call AWS, and the service each one calls. Nothing else may.
CALLERS = {
    "dynamo/extract/data_api.py": "redshift-data",
    "dynamo/load.py": "dynamodb",
    "dynamo/tables.py": "dynamodb",
    "dynamo/prune.py": "dynamodb",
    "contabyx/api.py": "dynamodb",
}


def calls_by_module(package: str) -> dict[str, set[str]]:
    """For each module of ``package``: the operations of either service it calls."""
    names = set(_operations("dynamodb")) | set(_operations("redshift-data"))
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        calls: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
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
        if calls:
            out[path.relative_to(ROOT).as_posix()] = calls
    return out


def actions_called(package: str) -> set[str]:
    found: set[str] = set()
    for module, calls in calls_by_module(package).items():
        operations = _operations(CALLERS[module])
        found.update(f"{CALLERS[module]}:{operations[name]}" for name in calls)
    return found


def test_aws_is_called_only_from_the_known_modules() -> None:
    modules = set(calls_by_module("dynamo")) | set(calls_by_module("contabyx"))
    assert modules <= set(CALLERS), modules - set(CALLERS)


def granted(policy: str) -> set[str]:
    document = json.loads((ROOT / "config" / "iam" / policy).read_text())
    out: set[str] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"]
        out.update([actions] if isinstance(actions, str) else actions)
        assert "*" not in "".join(out), "no wildcard actions"
    return out


def test_the_sync_policy_grants_exactly_what_the_sync_calls() -> None:
    called = actions_called("dynamo")
    assert "dynamodb:BatchWriteItem" in called and "redshift-data:ExecuteStatement" in called
    assert granted("etl-policy.json") == called | IMPLIED


def test_the_client_policy_grants_exactly_what_the_client_calls() -> None:
    called = actions_called("contabyx")
    assert called == {"dynamodb:GetItem", "dynamodb:BatchGetItem"}
    assert granted("api-policy.json") == called


def test_policies_name_only_the_two_tables() -> None:
    for policy in ("etl-policy.json", "api-policy.json"):
        text = (ROOT / "config" / "iam" / policy).read_text()
        tables = {part.split('"')[0] for part in text.split(":table/")[1:]}
        assert tables == {"clients_info", "clients_info_by_year"}

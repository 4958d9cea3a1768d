"""``deploy/template.yaml`` deploys what the code needs, as the rest of the repository says.

- **Permissions do not drift.** The sync's policy in the template is
  ``config/iam/etl-policy.json`` with its placeholders filled in, statement by statement
  (every Data API way in; the direct source's statements are for hosts the template does
  not build), and the API function's is ``config/iam/api-policy.json``. Rendered for
  each way in, the sync's policy grants exactly the actions that way needs
  (``tests/test_iam_policies.py`` derives them from the calls in the code).
- **The instance is configured as the sync reads it.** The ``config/.env`` its user data
  writes selects the same Data API target as the parameters, through the sync's own
  settings; the crontab runs ``scripts/insert.sh`` at ``SyncAtUtc``.
- **Every scanner suppression says why.**

cfn-lint and checkov themselves run in ``make scan`` (``scripts/check_template.py``),
which also checks that checkov fails a weakened copy of the template.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from dotenv import dotenv_values

from contabyx.http_api import DEFAULT_MAX_AGE, DEFAULT_SYNC_AT, HttpSettings
from dynamo import metrics
from dynamo.config import Settings, known_keys, load_settings
from dynamo.extract.data_api import DataApiSource
from tests.support.cfn import Renderer, load
from tests.test_iam_policies import MODES, _actions, _modes_of, needed, statements

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = load(ROOT / "deploy" / "template.yaml")
RESOURCES = TEMPLATE["Resources"]

#: Parameters that fill the policies' placeholders (the rest keep their defaults).
PLACEHOLDERS = {
    "Database": "DATABASE",
    "DbUser": "DBUSER",
    "WorkgroupId": "WORKGROUP_ID",
}
#: The template's parameters for each Data API way in (MODES of the IAM test).
WAYS_IN = {
    "data-api cluster+dbuser": {"ClusterIdentifier": "CLUSTER"},
    "data-api secret": {"ClusterIdentifier": "CLUSTER", "SecretName": "SECRET_NAME"},
    "data-api workgroup": {"WorkgroupName": "wg", "WorkgroupId": "WORKGROUP_ID"},
    "data-api workgroup+secret": {
        "WorkgroupName": "wg",
        "WorkgroupId": "WORKGROUP_ID",
        "SecretName": "SECRET_NAME",
    },
}
#: What the Data API request names for each way in (as in tests/test_iam_policies.py).
TARGETS = {
    "data-api cluster+dbuser": {"ClusterIdentifier", "DbUser"},
    "data-api secret": {"ClusterIdentifier", "SecretArn"},
    "data-api workgroup": {"WorkgroupName"},
    "data-api workgroup+secret": {"WorkgroupName", "SecretArn"},
}


def _renderer(mode: str, **extra: str) -> Renderer:
    parameters = {**PLACEHOLDERS, **WAYS_IN[mode], **extra}
    return Renderer(
        TEMPLATE, {"ArtifactBucket": "bucket", "SyncBundleKey": "b.tar.gz", **parameters}
    )


def _normal(statement: dict[str, Any]) -> dict[str, Any]:
    """A statement with its lists as sorted lists, whatever form each was written in."""
    out = dict(statement)
    for key in ("Action", "Resource"):
        value = out[key]
        out[key] = sorted([value] if isinstance(value, str) else value)
    return out


def _rendered_statements(renderer: Renderer, resource: str) -> list[dict[str, Any]]:
    document = renderer.render(RESOURCES[resource]["Properties"]["PolicyDocument"])
    return [_normal(statement) for statement in document["Statement"]]


def _sync_statements(mode: str) -> list[dict[str, Any]]:
    return _rendered_statements(_renderer(mode), "SyncCodePolicy")


def _data_api_tokens() -> set[str]:
    return set().union(*(tokens for mode, (src, tokens, _) in MODES.items() if src == "data-api"))


# --------------------------------------------------------------------------- permissions


def test_the_sync_policy_is_the_etl_policy_file_for_every_data_api_way_in() -> None:
    deployed: dict[str, dict[str, Any]] = {}
    for mode in WAYS_IN:
        for statement in _sync_statements(mode):
            assert deployed.setdefault(statement["Sid"], statement) == statement, mode
    wanted = {
        s["Sid"]: _normal(s)
        for s in statements("etl-policy.json")
        if _modes_of(s) & _data_api_tokens()
    }
    assert deployed == wanted
    # What is left out serves only the direct source (redshift_connector from a host
    # that reaches the cluster's endpoint), which the template does not deploy.
    left_out = {s["Sid"] for s in statements("etl-policy.json")} - set(wanted)
    assert left_out == {"ClusterEndpointForDirectIamNoHostMode"}


@pytest.mark.parametrize("mode", sorted(WAYS_IN))
def test_each_way_in_gets_exactly_the_actions_it_needs(mode: str) -> None:
    granted = set().union(*(_actions(statement) for statement in _sync_statements(mode)))
    assert granted == needed(mode)


def test_the_api_function_policy_is_the_api_policy_file() -> None:
    policies = RESOURCES["ApiFunction"]["Properties"]["Policies"]
    renderer = _renderer("data-api cluster+dbuser")
    deployed = [_normal(s) for policy in policies for s in renderer.render(policy)["Statement"]]
    assert deployed == [_normal(s) for s in statements("api-policy.json")]


def test_the_sync_host_gets_its_bundle_its_log_and_session_manager_only() -> None:
    """Beyond config/iam/etl-policy.json, the instance may read its own bundle, write
    its own log group, and be reached through Session Manager: nothing else."""
    host = _rendered_statements(_renderer("data-api cluster+dbuser"), "SyncHostPolicy")
    assert host == [
        {
            "Sid": "ReadTheSyncBundle",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::bucket/b.tar.gz"],
        },
        {
            "Sid": "ShipTheSyncLog",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            "Resource": ["<SyncLogGroup.Arn>", "<SyncLogGroup.Arn>:log-stream:*"],
        },
    ]
    role = _renderer("data-api cluster+dbuser").render(RESOURCES["SyncRole"]["Properties"])
    assert role["ManagedPolicyArns"] == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
    assert "Policies" not in role
    policies = [r for r in RESOURCES.values() if r["Type"] == "AWS::IAM::RolePolicy"]
    assert [p["Properties"]["PolicyName"] for p in policies] == [
        "contabyx-etl",
        "contabyx-sync-host",
    ]


def test_the_tables_are_protected_and_keyed_as_the_code_expects() -> None:
    keys = {
        "clients_info": [("clientid", "N", "HASH")],
        "clients_info_by_year": [("clientid", "N", "HASH")],
        Settings.sync_table: [("pk", "S", "HASH"), ("sk", "S", "RANGE")],
    }
    tables = {
        r["Properties"]["TableName"]: r
        for r in RESOURCES.values()
        if r["Type"] == "AWS::DynamoDB::Table"
    }
    assert (
        set(tables)
        == set(keys)
        == {
            Settings.clients_info_table,
            Settings.clients_info_by_year_table,
            Settings.sync_table,
        }
    )
    for name, resource in tables.items():
        p = resource["Properties"]
        types = {a["AttributeName"]: a["AttributeType"] for a in p["AttributeDefinitions"]}
        assert [
            (k["AttributeName"], types[k["AttributeName"]], k["KeyType"]) for k in p["KeySchema"]
        ] == keys[name]
        assert p["BillingMode"] == "PAY_PER_REQUEST", name
        assert p["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, name
        assert p["DeletionProtectionEnabled"] is True, name
        assert p["SSESpecification"]["SSEEnabled"] is True, name
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain", name


# --------------------------------------------------------------------------- the instance


def user_data(renderer: Renderer) -> str:
    """The sync instance's user data script, rendered."""
    data = RESOURCES["SyncLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
    text = renderer.render(data)
    assert isinstance(text, str)
    return text


def _env_file(script: str, tmp_path: Path) -> Path:
    body = re.search(r"cat > /opt/contabyx/config/\.env <<'EOF'\n(.*?)\nEOF\n", script, re.S)
    assert body, "the user data writes config/.env"
    path = tmp_path / ".env"
    path.write_text(body.group(1))
    return path


@pytest.mark.parametrize("mode", sorted(WAYS_IN))
def test_the_instance_env_file_targets_the_warehouse_the_parameters_name(
    mode: str, tmp_path: Path
) -> None:
    renderer = _renderer(mode, ClusterIdentifier=WAYS_IN[mode].get("ClusterIdentifier", ""))
    path = _env_file(user_data(renderer), tmp_path)
    assert set(dotenv_values(path)) <= known_keys(), "every key is a setting of the sync"
    settings = load_settings(env_file=path, environ={})  # the sync's own checks
    assert settings.metrics_namespace == renderer.parameters["MetricsNamespace"]
    source = DataApiSource.from_settings(settings)
    try:
        assert set(source._target) - {"Database"} == TARGETS[mode]
        assert source._target["Database"] == "DATABASE"
    finally:
        source.close()


def test_the_user_data_is_valid_bash_and_installs_the_pinned_bundle() -> None:
    script = user_data(_renderer("data-api cluster+dbuser"))
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)
    assert script.startswith("#!/bin/bash\nset -euxo pipefail\n")
    assert (
        "--no-index --find-links /opt/contabyx/wheels --require-hashes --no-deps "
        "-r /opt/contabyx/config/requirements.txt"
    ) in script
    assert '"s3://bucket/b.tar.gz"' in script
    assert "${" not in script.replace("${!", ""), "every ${...} was substituted"


def test_the_crontab_runs_insert_sh_at_sync_at_utc() -> None:
    script = user_data(_renderer("data-api cluster+dbuser", SyncAtUtc="23:05", FullSyncDay="3"))
    line = next(line for line in script.splitlines() if "crontab -u contabyx" in line)
    assert line.startswith('echo "05 23 * * * CONTABYX_FULL_DAY=3 /opt/contabyx/scripts/insert.sh"')
    assert (ROOT / "scripts" / "insert.sh").is_file()


def test_the_function_reads_the_settings_the_template_gives_it() -> None:
    renderer = _renderer("data-api cluster+dbuser")
    props = RESOURCES["ApiFunction"]["Properties"]
    env = renderer.render(props["Environment"]["Variables"])
    assert env["CLIENTS_INFO_TABLE"] == Settings.clients_info_table
    assert env["CLIENTS_INFO_BY_YEAR_TABLE"] == Settings.clients_info_by_year_table
    HttpSettings.from_env({key: str(value) for key, value in env.items()})  # accepted as is
    source = (ROOT / "contabyx" / "aws_lambda.py").read_text()
    assert props["Handler"] == "contabyx.aws_lambda.handler" and "handler = " in source
    assert all(
        key in source or key in (ROOT / "contabyx" / "http_api.py").read_text() for key in env
    )


def test_the_alarms_read_what_the_sync_publishes() -> None:
    """Metric names and namespace are dynamo.metrics's; the failure alarm fires on one
    failed run, the staleness alarm after 26 hours without a success, data or not."""
    alarms = {
        n: r["Properties"] for n, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert set(alarms) == {"SyncFailedAlarm", "SyncStaleAlarm"}
    assert TEMPLATE["Parameters"]["MetricsNamespace"]["Default"] == metrics.DEFAULT_NAMESPACE
    for alarm in alarms.values():
        assert alarm["Namespace"] == {"Ref": "MetricsNamespace"}
        assert "Dimensions" not in alarm  # the run-level metrics have none
        assert alarm["Statistic"] == "Sum" and alarm["AlarmActions"]
    failed, stale = alarms["SyncFailedAlarm"], alarms["SyncStaleAlarm"]
    assert failed["MetricName"] == metrics.RUN_FAILED
    assert (failed["Threshold"], failed["ComparisonOperator"]) == (
        1,
        "GreaterThanOrEqualToThreshold",
    )
    assert stale["MetricName"] == metrics.RUN_SUCCEEDED
    assert (stale["Threshold"], stale["ComparisonOperator"]) == (1, "LessThanThreshold")
    assert (
        stale["Period"] * stale["EvaluationPeriods"]
        == 26 * 3600
        == stale["Period"] * stale["DatapointsToAlarm"]
    )
    assert stale["TreatMissingData"] == "breaching"
    # CloudWatch: an alarm may look back at most 7 days, 1 day if its period is under 1 hour.
    assert stale["Period"] >= 3600 and stale["Period"] * stale["EvaluationPeriods"] <= 7 * 86400


def test_the_defaults_are_the_code_s_defaults() -> None:
    """A parameter that sets what the code also defaults keeps the code's default."""
    defaults = {name: spec.get("Default") for name, spec in TEMPLATE["Parameters"].items()}
    assert defaults["HttpCacheMaxAge"] == DEFAULT_MAX_AGE
    assert defaults["SyncAtUtc"] == DEFAULT_SYNC_AT.strftime("%H:%M")
    assert defaults["Database"] == Settings.database and defaults["DbUser"] == Settings.dbuser
    insert_sh = (ROOT / "scripts" / "insert.sh").read_text()
    assert f'full_day="${{CONTABYX_FULL_DAY:-{defaults["FullSyncDay"]}}}"' in insert_sh
    hour, minute = defaults["SyncAtUtc"].split(":")
    crontab = (ROOT / "scripts" / "crontab.example").read_text()
    assert f"{int(minute)} {int(hour)} * * * " in crontab


# --------------------------------------------------------------------------- the scanners


def test_every_scanner_suppression_gives_its_reason() -> None:
    skips = [
        (name, skip)
        for name, resource in RESOURCES.items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips, "the template suppresses some findings; each must be listed with a reason"
    for name, skip in skips:
        assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (name, skip)
        assert len(skip.get("comment", "").split()) >= 8, f"{name}: say why {skip['id']} is skipped"
    assert "cfn-lint" not in json.dumps(TEMPLATE.get("Metadata", {})), "no cfn-lint rule is ignored"


# --------------------------------------------------------------------------- make deploy


def _readme_deploy_parameters() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    example = re.search(r'make deploy STACK=\S+ BUCKET=\S+ \\\n\s+PARAMS="([^"]*)"', text)
    assert example, "the README's production set-up shows make deploy with PARAMS"
    return dict(pair.split("=", 1) for pair in example.group(1).split())


def test_the_readme_deploy_example_gives_every_required_parameter() -> None:
    given = _readme_deploy_parameters()
    parameters = TEMPLATE["Parameters"]
    assert set(given) <= set(parameters), set(given) - set(parameters)
    required = {name for name, spec in parameters.items() if "Default" not in spec}
    # make deploy passes these two itself: the bucket it uploads to, the bundle's key.
    assert required - {"ArtifactBucket", "SyncBundleKey"} == set(given) - {
        name for name in given if "Default" in parameters[name]
    }


@pytest.mark.integration
def test_make_deploy_uploads_the_bundle_under_its_hash_then_deploys(tmp_path: Path) -> None:
    """The deploy recipe, run with a stand-in for the AWS CLI that logs its arguments
    (and ``package`` taken as built): the bundle goes to S3 under its SHA-256, and the
    stack gets that key, the bucket and the caller's parameters."""
    for path in ("Makefile", "deploy/template.yaml"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text())
    bundle = tmp_path / "dist" / "contabyx-sync.tar.gz"
    bundle.parent.mkdir()
    bundle.write_bytes(b"a bundle")
    stubs = tmp_path / "bin"
    stubs.mkdir()
    aws = stubs / "aws"
    aws.write_text(f'#!/bin/bash\necho "$*" >> {tmp_path}/aws.log\n')
    aws.chmod(0o755)
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}"}
    make = ["make", "--no-print-directory", "-o", "package", "deploy"]

    refused = subprocess.run(make, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "usage: make deploy STACK=name" in refused.stderr
    assert not (tmp_path / "aws.log").exists()

    args = ["STACK=contabyx", "BUCKET=artifacts", "PARAMS=ClusterIdentifier=c SubnetId=s VpcId=v"]
    done = subprocess.run([*make, *args], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    upload, package, deploy = (tmp_path / "aws.log").read_text().splitlines()
    key = f"contabyx/sync-{hashlib.sha256(b'a bundle').hexdigest()[:16]}.tar.gz"
    assert upload == f"s3 cp dist/contabyx-sync.tar.gz s3://artifacts/{key}"
    assert package.startswith("cloudformation package --template-file deploy/template.yaml")
    assert "--s3-bucket artifacts" in package
    assert deploy.startswith("cloudformation deploy --template-file build/packaged.yaml")
    assert "--stack-name contabyx" in deploy
    assert "--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND" in deploy
    assert deploy.endswith(
        f"--parameter-overrides ArtifactBucket=artifacts SyncBundleKey={key} "
        "ClusterIdentifier=c SubnetId=s VpcId=v"
    )

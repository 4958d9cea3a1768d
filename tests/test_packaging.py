"""The deployed artifacts (``make package``, scripts/package.py), built once into a
temporary directory, and what each gives where it is installed.

- The wheel, in a clean virtualenv with no extras (what ``pip install .`` gives an
  application that only reads figures): the library imports and answers to its public
  names, the sync's extra dependencies are absent, and importing the sync or serving over
  HTTP says which extra to install.
- The Lambda zip, alone on ``sys.path`` of an isolated interpreter: the handler imports
  and answers an API Gateway event, with nothing of the development virtualenv.
- The sync bundle, unpacked and installed as the EC2 instance's user data does it
  (``--require-hashes --no-deps``, then the wheel): its pins are complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path
from typing import Any

import pytest

from scripts.package import deterministic_zip, version

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration
EVENT = ROOT / "tests" / "http" / "events" / "api_gateway_http_v2.json"
#: What the HTTP API's function must not carry: the server, the sync, the tools.
NOT_IN_LAMBDA = {
    *("pytest", "_pytest", "hypothesis", "schemathesis", "ruff", "mypy", "piptools"),
    *("uvicorn", "httptools", "uvloop", "redshift_connector", "dotenv", "tqdm"),
    *("dynamo", "devstack", "bench", "tests", "pip", "setuptools", "pkg_resources"),
}

PROBE = """
import importlib.util, json
from importlib.metadata import requires
from contabyx import contabyxAPI, ContabyxError
try:
    import dynamo
    sync = "imported"
except ImportError as exc:
    sync = str(exc)
print(json.dumps({
    "api": contabyxAPI.__name__,
    "absent": [m for m in ("redshift_connector", "dotenv", "tqdm", "devstack")
               if importlib.util.find_spec(m) is None],
    "requires": [r for r in requires("contabyx") if "extra ==" not in r],
    "sync": sync,
}))
"""


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``make package`` into a temporary directory (it builds from its own copy of the
    tree, so the checkout is left as it was)."""
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "package.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    (out / "printed.txt").write_text(done.stdout)
    return {
        "wheel": out / f"contabyx-{version()}-py3-none-any.whl",
        "lambda": out / "lambda.zip",
        "bundle": out / "contabyx-sync.tar.gz",
        "printed": out / "printed.txt",
    }


@pytest.fixture(scope="module")
def bare_install(
    tmp_path_factory: pytest.TempPathFactory, artifacts: dict[str, Path]
) -> dict[str, object]:
    base = tmp_path_factory.mktemp("bare")
    venv.create(base / "venv", with_pip=True)
    python = base / "venv" / "bin" / "python"
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(artifacts["wheel"]),
        ],
        check=True,
        timeout=600,
    )
    # Run away from the checkout: ``python -c`` puts the working directory on sys.path.
    probe = subprocess.run(
        [str(python), "-c", PROBE],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=base,
    )
    answer = dict(json.loads(probe.stdout))
    serve = subprocess.run(
        [str(base / "venv" / "bin" / "contabyx"), "serve", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=base,
    )
    answer["serve"] = {"status": serve.returncode, "stderr": serve.stderr}
    return answer


def test_the_library_imports_with_boto3_alone(bare_install: dict[str, object]) -> None:
    assert bare_install["api"] == "contabyxAPI"
    assert [r.split(">")[0] for r in bare_install["requires"]] == ["boto3"]  # type: ignore[union-attr]


def test_the_sync_extra_is_not_installed_nor_the_local_stack(
    bare_install: dict[str, object],
) -> None:
    assert bare_install["absent"] == ["redshift_connector", "dotenv", "tqdm", "devstack"]


def test_importing_the_sync_names_the_extra_to_install(bare_install: dict[str, object]) -> None:
    message = str(bare_install["sync"])
    assert "pip install 'contabyx[sync]'" in message
    assert "redshift_connector" in message


def test_the_sync_imports_here() -> None:
    """The development install has the extra: the guard lets it through."""
    done = subprocess.run(
        [sys.executable, "-c", "import dynamo.query"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_serving_over_http_names_the_extra_to_install(bare_install: dict[str, object]) -> None:
    serve = bare_install["serve"]
    assert isinstance(serve, dict)
    assert serve["status"] != 0
    assert "pip install 'contabyx[http]'" in serve["stderr"]
    assert "Traceback" not in serve["stderr"]


def test_make_package_prints_each_artifacts_size(artifacts: dict[str, Path]) -> None:
    printed = artifacts["printed"].read_text()
    for name in ("wheel", "lambda", "bundle"):
        assert f"{artifacts[name]}: " in printed
    digest = hashlib.sha256(artifacts["lambda"].read_bytes()).hexdigest()
    assert f"sha256 {digest}" in printed
    assert "unzipped (limit 250 MiB)" in printed


def test_the_wheel_ships_the_product_only(artifacts: dict[str, Path]) -> None:
    with zipfile.ZipFile(artifacts["wheel"]) as wheel:
        tops = {name.split("/")[0] for name in wheel.namelist()}
    assert tops == {"contabyx", "dynamo", f"contabyx-{version()}.dist-info"}


def _top_level(names: list[str]) -> set[str]:
    """Importable top-level names, and the distributions of the .dist-info folders."""
    out = set()
    for name in names:
        top = name.split("/")[0]
        if top.endswith(".dist-info"):
            out.add(top.split("-")[0].lower())
        else:
            out.add(top.removesuffix(".py"))
    return out


def test_the_lambda_zip_holds_the_handler_and_nothing_else(artifacts: dict[str, Path]) -> None:
    with zipfile.ZipFile(artifacts["lambda"]) as archive:
        names = archive.namelist()
    assert "contabyx/aws_lambda.py" in names
    assert {"fastapi", "mangum", "pydantic", "boto3", "botocore"} <= _top_level(names)
    assert "pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so" in names
    assert _top_level(names) & NOT_IN_LAMBDA == set()
    assert [n for n in names if "__pycache__" in n or n.startswith("bin/")] == []
    assert names == sorted(names)


def test_the_lambda_zip_is_the_same_bytes_from_the_same_files(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    """Times, modes and the order the files are found in do not reach the zip."""
    with zipfile.ZipFile(artifacts["lambda"]) as archive:
        archive.extractall(tmp_path / "files")
    for i, path in enumerate(sorted((tmp_path / "files").rglob("*.py"))[:50]):
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))
        path.chmod(0o600 if i % 2 else 0o755)
    deterministic_zip(tmp_path / "files", tmp_path / "again.zip")
    assert (tmp_path / "again.zip").read_bytes() == artifacts["lambda"].read_bytes()


LAMBDA_PROBE = """
import json, sys, types
sys.path.insert(0, sys.argv[1])
import boto3, fastapi, pydantic_core
import contabyx.aws_lambda as function
context = types.SimpleNamespace(
    function_name="contabyx-http", aws_request_id="r", get_remaining_time_in_millis=lambda: 30000
)
response = function.handler(json.loads(sys.argv[2]), context)
print(json.dumps({
    "status": response["statusCode"],
    "body": response["body"],
    "files": [m.__file__ for m in (boto3, fastapi, pydantic_core, function)],
    "path": sys.path,
}))
"""


def _health_event() -> dict[str, object]:
    """AWS's sample API Gateway HTTP API event, as a GET of /health."""
    event = json.loads(EVENT.read_text())
    event.update(rawPath="/health", rawQueryString="", body=None, isBase64Encoded=False)
    event["queryStringParameters"] = None
    event["requestContext"]["http"].update(method="GET", path="/health")
    return dict(event)


def test_the_lambda_zip_alone_answers_an_api_gateway_event(
    artifacts: dict[str, Path], tmp_path: Path
) -> None:
    if sys.version_info[:2] != (3, 11) or os.uname().machine != "x86_64":
        pytest.skip("the zip holds CPython 3.11 x86_64 extensions")
    files = tmp_path / "task"
    with zipfile.ZipFile(artifacts["lambda"]) as archive:
        archive.extractall(files)
    # What the function's environment has: its region, its role's credentials (dummies:
    # /health reads nothing), the tables; no configuration file of this machine.
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "CLIENTS_INFO_TABLE": "clients_info",
        "CLIENTS_INFO_BY_YEAR_TABLE": "clients_info_by_year",
    }
    # -I -S: no site-packages, no working directory, no PYTHON* variables: the zip alone.
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAMBDA_PROBE, str(files), json.dumps(_health_event())],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == 200
    assert json.loads(answer["body"]) == {"status": "ok"}
    assert all(f.startswith(str(files)) for f in answer["files"]), answer["files"]
    assert not any("site-packages" in p for p in answer["path"]), answer["path"]


def test_the_sync_bundle_holds_exactly_what_the_instance_installs(
    artifacts: dict[str, Path],
) -> None:
    """The files the user data uses, and one wheel per pin of config/requirements.txt,
    built for the instance (so that it installs with no package index)."""
    with tarfile.open(artifacts["bundle"]) as bundle:
        members = {m.name: m for m in bundle.getmembers()}
    wheels = {name for name in members if name.startswith("wheels/")}
    assert sorted(set(members) - wheels) == [
        "config/.env.example",
        "config/requirements.txt",
        f"dist/{artifacts['wheel'].name}",
        "scripts/insert.sh",
    ]
    assert all(m.isfile() for m in members.values())
    assert members["scripts/insert.sh"].mode == 0o755
    pins = {
        (name.lower().replace("_", "-"), version)
        for name, version in re.findall(
            r"^([A-Za-z0-9_.-]+)==(\S+)", (ROOT / "config" / "requirements.txt").read_text(), re.M
        )
    }
    shipped = set()
    for name in wheels:
        project, release, *_, tag = name.removeprefix("wheels/").removesuffix(".whl").split("-")
        shipped.add((project.lower().replace("_", "-"), release))
        assert tag in ("any", "manylinux2014_x86_64") or ("manylinux" in tag and "x86_64" in tag)
    assert shipped == pins


#: Commands of the instance's user data that need root or AWS, replaced here by stubs
#: that log their arguments: the sync itself, its venv and its pins are the real ones.
STUBS = {
    "dnf": "",
    "id": "exit 1",  # no such user yet: the script makes it
    "useradd": 'while [ $# -gt 1 ]; do [ "$1" = --home-dir ] && mkdir -p "$2"; shift; done',
    "aws": '[ "$1 $2" = "s3 cp" ] && cp "$BUNDLE" "$4"',
    "chown": "",
    "crontab": 'cat > "$STUB_LOG.crontab"',
    "systemctl": "",
    "install": 'args=(); while [ $# -gt 0 ]; do case "$1" in -o|-g) shift 2;; '
    '*) args+=("$1"); shift;; esac; done; /usr/bin/install "${args[@]}"',
}


def _instance(tmp_path: Path, artifacts: dict[str, Path], parameters: dict[str, str]) -> Path:
    """Run the template's user data, rendered for ``parameters``, under ``tmp_path``
    (``/opt`` moved there) with root's and AWS's commands stubbed; return the home."""
    from tests.support.cfn import Renderer
    from tests.test_deploy_template import TEMPLATE, user_data

    script = user_data(Renderer(TEMPLATE, parameters))
    script = script.replace("/opt/", f"{tmp_path}/opt/").replace(
        "/tmp/contabyx-sync.tar.gz", f"{tmp_path}/bundle.tar.gz"
    )
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    agent = tmp_path / "opt" / "aws" / "amazon-cloudwatch-agent"
    (agent / "etc").mkdir(parents=True)
    (agent / "bin").mkdir()
    commands = {**STUBS, "python3.11": f'exec {sys.executable} "$@"'}
    for name, body in commands.items():
        path = stubs / name
        path.write_text(f'#!/bin/bash\necho "{name} $*" >> "$STUB_LOG"\n{body}\n')
        path.chmod(0o755)
    ctl = agent / "bin" / "amazon-cloudwatch-agent-ctl"
    ctl.write_text('#!/bin/bash\necho "agent $*" >> "$STUB_LOG"\n')
    ctl.chmod(0o755)
    env = {
        # The bundle carries its wheels: an index the script asked for would not answer.
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",
        "PATH": f"{stubs}:{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "BUNDLE": str(artifacts["bundle"]),
        "STUB_LOG": str(tmp_path / "stubs.log"),
    }
    done = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return tmp_path / "opt" / "contabyx"


def test_the_user_data_installs_the_bundle_and_its_cron_job_syncs(
    artifacts: dict[str, Path],
    tmp_path: Path,
    local_stack: Any,
    warehouse: Any,
    cloudwatch: str,
) -> None:
    """The template's user data, run (root's and AWS's commands stubbed): it unpacks the
    bundle, installs the pins with their hashes and then the wheel (nothing missing:
    pip check), writes config/.env and the crontab line; then the crontab's command,
    run as cron would, syncs the local stack exactly."""
    from dynamo import metrics
    from tests.support.cloudwatch import published
    from tests.support.synced import differences, fresh_tables, seeded, sync_table

    env = local_stack.env
    parameters = {
        "ClusterIdentifier": env["CLUSTER"],
        "DbUser": env["DBUSER"],
        "Database": env["DATABASE"],
        "ArtifactBucket": "artifacts",
        "SyncBundleKey": "contabyx/sync-0123.tar.gz",
        "SyncAtUtc": "03:30",
    }
    home = _instance(tmp_path, artifacts, parameters)
    log = (tmp_path / "stubs.log").read_text()
    assert "aws s3 cp s3://artifacts/contabyx/sync-0123.tar.gz" in log
    crontab = (tmp_path / "stubs.log.crontab").read_text().strip()
    minute, hour, *_, command = crontab.split(" ")
    assert (minute, hour) == ("30", "03") and command.endswith("/opt/contabyx/scripts/insert.sh")
    pip = [str(home / ".venv" / "bin" / "python"), "-m", "pip", "--disable-pip-version-check"]
    check = subprocess.run([*pip, "check"], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout
    assert "DBUSER=" in (home / "config" / ".env").read_text()

    tables = ("deployed_ci", "deployed_ciby")
    expected = seeded(local_stack, warehouse, clients=60, seed=11)
    fresh_tables(*tables)
    # As cron runs it: the crontab's command and variables, no terminal. The process
    # environment points the sync at the local stack (it overrides config/.env).
    cron_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CONTABYX_")},
        "CLIENTS_INFO_TABLE": tables[0],
        "CLIENTS_INFO_BY_YEAR_TABLE": tables[1],
        "SYNC_TABLE": sync_table(tables),
        "CONTABYX_FULL_DAY": "7",
        "AWS_ENDPOINT_URL_CLOUDWATCH": cloudwatch,
    }
    run = subprocess.run(
        ["bash", str(home / "scripts" / "insert.sh"), "--full"],
        env=cron_env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=600,
    )
    synced = (home / "logs" / "insert.log").read_text()
    assert run.returncode == 0, synced[-3000:]
    assert "sync finished with status 0" in synced
    assert differences(tables, expected) == []
    # config/.env names the template's namespace; the alarms read these two.
    sent = published(cloudwatch, metrics.DEFAULT_NAMESPACE)
    assert (sent[metrics.RUN_SUCCEEDED, ""], sent[metrics.RUN_FAILED, ""]) == (1, 0)

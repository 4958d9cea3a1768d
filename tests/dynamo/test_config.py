"""Settings: precedence and validation, before any I/O."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dynamo.config import ConfigError, known_keys, load_settings


def test_precedence_file_then_environment_then_overrides(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DATABASE=fromfile\nCLUSTER=c-file\nWORKERS=3\n")
    s = load_settings(env_file=env_file, environ={"CLUSTER": "c-env"})
    assert (s.database, s.cluster, s.workers) == ("fromfile", "c-env", 3)
    s = load_settings({"workers": 5, "region": "eu-west-1"}, env_file=env_file, environ={})
    assert (s.workers, s.aws_region) == (5, "eu-west-1")


def test_defaults(tmp_path: Path) -> None:
    s = load_settings(env_file=tmp_path / "missing", environ={})
    assert (s.database, s.dbuser, s.source) == ("dev", "awsuser", "data-api")
    assert (s.clients_info_table, s.clients_info_by_year_table) == (
        "clients_info",
        "clients_info_by_year",
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"views_schema": "x; DROP TABLE y"}, "identifier"),
        ({"views_schema": "a.b.c"}, "identifier"),
        ({"clients_info_table": "x"}, "table name"),
        ({"workers": 0}, "WORKERS"),
        ({"workers": "many"}, "WORKERS"),
        ({"workers": True}, "WORKERS"),
        ({"source": "ftp"}, "SOURCE"),
        ({"max_write_units": -1}, "MAX_WRITE_UNITS"),
        ({"clients_info_table": "same", "clients_info_by_year_table": "same"}, "differ"),
    ],
)
def test_bad_values_are_refused(overrides: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(overrides, env_file=tmp_path / "none", environ={})


def test_unknown_setting_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="valid settings"):
        load_settings({"wokers": 3}, env_file=tmp_path / "none", environ={})


def test_password_is_not_in_the_repr(tmp_path: Path) -> None:
    s = load_settings(
        {"redshift_password": "sentinel-pw-123"}, env_file=tmp_path / "none", environ={}
    )
    assert "sentinel-pw-123" not in repr(s)


def test_source_needs_a_way_in(tmp_path: Path) -> None:
    s = load_settings(env_file=tmp_path / "none", environ={})
    with pytest.raises(ConfigError, match="CLUSTER"):
        s.check_source()
    load_settings({"workgroup": "wg"}, env_file=tmp_path / "none", environ={}).check_source()


# -- what the configuration ignores (issue 10, item 9) -----------------------------

ROOT = Path(__file__).resolve().parents[2]

#: A valid, non-default value for every key, and the attribute value it must give.
SAMPLES: dict[str, tuple[str, object]] = {
    "DATABASE": ("warehouse2", "warehouse2"),
    "CLUSTER": ("c-sample", "c-sample"),
    "DBUSER": ("etl_user", "etl_user"),
    "SECRET_ARN": ("arn:aws:secretsmanager:eu-west-1:1:secret:x", None),
    "WORKGROUP": ("wg-sample", "wg-sample"),
    "AWS_REGION": ("eu-west-3", "eu-west-3"),
    "SOURCE": ("direct", "direct"),
    "REDSHIFT_HOST": ("db.example", "db.example"),
    "REDSHIFT_PORT": ("5440", 5440),
    "REDSHIFT_USER": ("reader", "reader"),
    "REDSHIFT_PASSWORD": ("pw-sample", "pw-sample"),
    "REDSHIFT_IAM": ("true", True),
    "REDSHIFT_SSL": ("false", False),
    "VIEWS_SCHEMA": ("views2", "views2"),
    "SYNC_SCHEMA": ("etl_state", "etl_state"),
    "CLIENTS_INFO_TABLE": ("ci_sample", "ci_sample"),
    "CLIENTS_INFO_BY_YEAR_TABLE": ("ciby_sample", "ciby_sample"),
    "SYNC_TABLE": ("sync_sample", "sync_sample"),
    "WORKERS": ("3", 3),
    "READERS": ("2", 2),
    "CHUNK_CLIENTS": ("77", 77),
    "MAX_RETRIES": ("4", 4),
    "MAX_WRITE_UNITS": ("500", 500),
    "STATEMENT_TIMEOUT": ("120", 120.0),
    "AWS_CONNECT_TIMEOUT": ("2.5", 2.5),
    "AWS_READ_TIMEOUT": ("7", 7.0),
    "PRUNE_MAX_SHARE": ("0.2", 0.2),
    "DATA_API_RESULT_FORMAT": ("json", "json"),
    "LOG_LEVEL": ("INFO", "INFO"),
    "AWS_ENDPOINT_URL_DYNAMODB": ("http://127.0.0.1:1", "http://127.0.0.1:1"),
    "AWS_ENDPOINT_URL_REDSHIFT_DATA": ("http://127.0.0.1:2", "http://127.0.0.1:2"),
    "AWS_ENDPOINT_URL_CLOUDWATCH": ("http://127.0.0.1:3", "http://127.0.0.1:3"),
    "METRICS_NAMESPACE": ("Contabyx/Test", "Contabyx/Test"),
}
SAMPLES["SECRET_ARN"] = (SAMPLES["SECRET_ARN"][0], SAMPLES["SECRET_ARN"][0])


def _documented_keys() -> set[str]:
    """The keys of the README's configuration table and the AWS endpoints it names."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    keys = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            keys.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return keys | {
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_REDSHIFT_DATA",
        "AWS_ENDPOINT_URL_CLOUDWATCH",
    }


def test_every_documented_key_has_a_sample() -> None:
    assert _documented_keys() - set(SAMPLES) == set()


def test_every_key_is_documented_and_in_the_example_file() -> None:
    # AWS_DEFAULT_REGION is named in AWS_REGION's row, as its fallback.
    assert known_keys() - _documented_keys() == {"AWS_DEFAULT_REGION"}
    example = (ROOT / "config" / ".env.example").read_text()
    assert {k for k in known_keys() if f"{k}=" not in example} == {"AWS_DEFAULT_REGION"}


@pytest.mark.parametrize("key", sorted(SAMPLES))
def test_every_key_works_from_the_file_and_from_the_environment(key: str, tmp_path: Path) -> None:
    value, expected = SAMPLES[key]
    env_file = tmp_path / ".env"
    env_file.write_text(f"{key}={value}\n")
    from_file = load_settings(env_file=env_file, environ={})
    from_env = load_settings(env_file=tmp_path / "none", environ={key: value})
    assert getattr(from_file, key.lower()) == expected
    assert getattr(from_env, key.lower()) == expected


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("CLUSTR", "CLUSTER"), ("WORKERZ", "WORKERS"), ("AWS_REGOIN", "AWS_REGION")],
)
def test_a_misspelled_key_in_the_file_is_an_error_naming_the_key_meant(
    typo: str, meant: str, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"DATABASE=dev\n{typo}=x\n")
    with pytest.raises(ConfigError, match=f"unknown key {typo} in .*did you mean {meant}\\?"):
        load_settings(env_file=env_file, environ={})


def test_an_unrelated_key_in_the_file_is_a_warning_with_the_nearest_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "AWS_PROFILE=prod\nCONTABYX_LOCK=/x\nAWS_ENDPOINT_URL=http://x\nCLUSTER=c\nCOLOUR=red\n"
    )
    with caplog.at_level(logging.WARNING, logger="dynamo.config"):
        s = load_settings(env_file=env_file, environ={})
    assert s.cluster == "c"
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3, warned
    for key, message in zip(("AWS_PROFILE", "AWS_ENDPOINT_URL", "COLOUR"), warned):
        assert f"key {key} is not a contabyx setting and is ignored (nearest known key: " in message
    assert "boto3 reads its own AWS_ variables from the environment only" in warned[1]
    assert "boto3" not in warned[2]


def test_unknown_keys_of_the_environment_are_not_reported(tmp_path: Path) -> None:
    s = load_settings(env_file=tmp_path / "none", environ={"CLUSTR": "x", "HOME": "/"})
    assert s.cluster is None


def test_a_missing_contabyx_env_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.env"
    with pytest.raises(ConfigError, match=r"CONTABYX_ENV_FILE names .*nope\.env.* not a file"):
        load_settings(environ={"CONTABYX_ENV_FILE": str(missing)})
    missing.write_text("WORKERS=2\n")
    assert load_settings(environ={"CONTABYX_ENV_FILE": str(missing)}).workers == 2
    # The null device is the explicit "no file": the environment alone.
    only_env = load_settings(environ={"CONTABYX_ENV_FILE": os.devnull, "WORKERS": "3"})
    assert only_env.workers == 3


def test_bad_log_level_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LOG_LEVEL must be one of"):
        load_settings(env_file=tmp_path / "none", environ={"LOG_LEVEL": "bogus"})


def test_aws_default_region_is_the_fallback_of_aws_region(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("AWS_DEFAULT_REGION=eu-north-1\n")
    assert load_settings(env_file=env_file, environ={}).aws_region == "eu-north-1"
    got = load_settings(env_file=env_file, environ={"AWS_REGION": "eu-south-1"})
    assert got.aws_region == "eu-south-1"


@pytest.mark.integration
def test_the_data_api_endpoint_from_the_file_reaches_the_client(tmp_path: Path) -> None:
    from dynamo.query import Insert

    env_file = tmp_path / ".env"
    env_file.write_text(
        "CLUSTER=c1\nAWS_REGION=eu-west-1\nAWS_ENDPOINT_URL_REDSHIFT_DATA=http://127.0.0.1:9\n"
    )
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_ENDPOINT_URL_REDSHIFT_DATA", "AWS_ENDPOINT_URL", "CLUSTER"):
            mp.delenv(key, raising=False)
        mp.setenv("CONTABYX_ENV_FILE", str(env_file))
        source: Any = Insert().source
        assert source.client.meta.endpoint_url == "http://127.0.0.1:9"


def _etl(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOG_"))}
    base.update(env)
    return subprocess.run(
        [str(Path(sys.executable).parent / "contabyx-etl"), *args],
        env=base,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.integration
@pytest.mark.parametrize("where", ["file", "environment", "flag"])
def test_a_bad_log_level_is_one_line_and_no_traceback(where: str, tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LOG_LEVEL=bogus\n" if where == "file" else "")
    env = {"CONTABYX_ENV_FILE": str(env_file)}
    if where == "environment":
        env["LOG_LEVEL"] = "bogus"
    flags = ["--log-level", "bogus"] if where == "flag" else []
    done = _etl(*flags, "create-tables", env=env)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "contabyx-etl: error: LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, "
        "not 'bogus'"
    ]


@pytest.mark.integration
def test_log_level_in_the_file_is_honoured(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    # Nothing listens on port 9: create-tables fails at once, after logging at DEBUG.
    env_file.write_text(
        "LOG_LEVEL=DEBUG\nAWS_REGION=us-east-1\nAWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9\n"
    )
    env = {
        "CONTABYX_ENV_FILE": str(env_file),
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "y",
    }
    done = _etl("create-tables", env=env)
    assert done.returncode == 1
    assert " DEBUG " in done.stderr
    assert "127.0.0.1:9" in done.stderr.splitlines()[-1]

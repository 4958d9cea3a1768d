"""Settings: precedence and validation, before any I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from dynamo.config import ConfigError, load_settings


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

"""The defaults the README and ``config/.env.example`` show are ``Settings``' own.

A default is stated once, in :class:`dynamo.config.Settings`; the documents that
repeat it for the reader are checked against it here, so they cannot drift.
"""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from dynamo.config import Settings, known_keys

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = {f.name.upper(): f.default for f in fields(Settings)}


def _readme_defaults() -> dict[str, str]:
    """Key -> the default the README's configuration table shows, where it shows one
    as a literal (a key name there means "falls back to that key")."""
    text = (ROOT / "README.md").read_text()
    table = text.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    shown: dict[str, str] = {}
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        cells = [cell.strip() for cell in line.split("|")[1:3]]
        keys = re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0])
        for key, value in zip(keys, cells[1].split(",")):
            literal = re.match(r"\s*`([^`]+)`", value)
            if literal and literal.group(1) not in known_keys():
                shown[key] = literal.group(1)
    return shown


def _example_defaults() -> dict[str, str]:
    """Key -> value of each commented-out ``# KEY=value`` line of the example file:
    the defaults it shows without setting them."""
    text = (ROOT / "config" / ".env.example").read_text()
    return dict(re.findall(r"^# ([A-Z][A-Z0-9_]+)=(\S+)$", text, flags=re.M))


def _same(shown: str, default: Any) -> bool:
    if isinstance(default, bool):
        return shown == str(default).lower()
    if isinstance(default, (int, float)):
        return float(shown) == float(default)
    return shown == default


def test_the_readme_shows_most_defaults() -> None:
    assert len(_readme_defaults()) >= 15


@pytest.mark.parametrize("key", sorted(_readme_defaults()))
def test_each_default_in_the_readme_is_the_settings_default(key: str) -> None:
    assert _same(_readme_defaults()[key], DEFAULTS[key]), (key, DEFAULTS[key])


@pytest.mark.parametrize("key", sorted(_example_defaults()))
def test_each_default_in_the_example_file_is_the_settings_default(key: str) -> None:
    assert key in DEFAULTS, key
    assert _same(_example_defaults()[key], DEFAULTS[key]), (key, DEFAULTS[key])

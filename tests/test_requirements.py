"""The pinned files (``config/requirements*.txt``) still say what pyproject.toml declares.

``make requirements`` writes them with pip-compile; nothing re-resolves here (no index, no
network): each file is read against pyproject.toml's declarations for the extras named in
its own header (the command pip-compile recorded), evaluated for the deployed interpreter,
CPython 3.11 on Linux x86_64. A file is stale when

- a declared dependency is not pinned, or is pinned at a version its specifier rejects
  (a dependency added, a floor raised);
- a pin annotated ``via contabyx (pyproject.toml)`` is no longer declared (one removed);
- a pin is not ``==``, or has no ``--hash=sha256:`` (``pip install --require-hashes``
  refuses the whole file then), or is the project itself (which the wheel brings, and
  which a local path pins to one machine);
- a declared dependency asks for extras: with ``--strip-extras`` the file shows only the
  distribution, so whether the extra's own dependencies are pinned cannot be read from it.

No hash of pyproject.toml's declarations is recorded beside the pins. It would detect
every edit, but the checks above already catch each edit that makes the pins wrong; the
remaining edits (a lowered floor, a ceiling the pins satisfy, a new extra elsewhere)
leave the pins valid, and pip-compile, which keeps pins that still satisfy, would
regenerate the same file. A stored hash would only make those edits fail with nothing to
fix, and be one more fact to keep in step.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - CI runs 3.11
    tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs tomli before 3.11")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
FILES = sorted((ROOT / "config").glob("requirements*.txt"))
#: Where the pins are installed: the EC2 instance's python3.11 and the Lambda runtime.
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}
_EXTRA = re.compile(r"--extra[= ]([A-Za-z0-9._-]+)")


@dataclass
class Pin:
    """One requirement line of a pinned file, with its hashes and ``# via`` annotations."""

    line: str
    requirement: Optional[Requirement]
    hashes: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)


@dataclass
class Declared:
    """A dependency pyproject.toml declares for the file's extras (specifiers combined)."""

    name: str
    specifier: SpecifierSet
    extras: set[str]
    where: list[str]


def _logical_lines(text: str) -> list[str]:
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        out.append(pending + raw)
        pending = ""
    if pending:
        out.append(pending)
    return out


def parse_pins(text: str) -> list[Pin]:
    """The requirement lines of a pip-compile output, with what annotates each."""
    pins: list[Pin] = []
    for line in _logical_lines(text):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            # Indented comments belong to the pin above (pip-compile's "# via" block).
            if pins and line[:1].isspace():
                words = stripped.lstrip("#").strip()
                words = words[len("via") :].strip() if words.startswith("via") else words
                if words:
                    pins[-1].via.add(words)
            continue
        tokens = stripped.split()
        hashes = [t[len("--hash=") :] for t in tokens if t.startswith("--hash=")]
        rest = " ".join(t for t in tokens if not t.startswith("--hash="))
        try:
            requirement: Optional[Requirement] = Requirement(rest)
        except ValueError:
            requirement = None  # an option line (-e, --index-url): reported as not a pin
        pins.append(Pin(stripped, requirement, hashes))
    return pins


def extras_of(text: str) -> list[str]:
    """The extras the file was compiled for, from the command in its header."""
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    return sorted(set(_EXTRA.findall(header)))


def _applies(requirement: Requirement, extra: str) -> bool:
    return requirement.marker is None or requirement.marker.evaluate({**TARGET, "extra": extra})


def declared(project: dict[str, Any], extras: Iterable[str]) -> dict[str, Declared]:
    """Base dependencies and those of ``extras``, self-references (``contabyx[lambda]``)
    followed, markers evaluated for :data:`TARGET`; keyed by canonical name."""
    own = canonicalize_name(project["name"])
    optional: dict[str, list[str]] = project.get("optional-dependencies", {})
    out: dict[str, Declared] = {}
    todo: list[Optional[str]] = [None, *extras]
    seen: set[Optional[str]] = set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        if extra is not None and extra not in optional:
            raise KeyError(f"pyproject.toml has no extra {extra!r}")
        lines = project.get("dependencies", []) if extra is None else optional[extra]
        where = "dependencies" if extra is None else f"extra {extra}"
        for line in lines:
            requirement = Requirement(line)
            if not _applies(requirement, extra or ""):
                continue
            name = canonicalize_name(requirement.name)
            if name == own:
                todo.extend(requirement.extras)
                continue
            entry = out.setdefault(name, Declared(name, SpecifierSet(), set(), []))
            entry.specifier &= requirement.specifier
            entry.extras |= requirement.extras
            entry.where.append(where)
    return out


def _pin_problems(pin: Pin, own: str) -> list[str]:
    requirement = pin.requirement
    if requirement is None:
        return [f"{pin.line!r}: not a pin"]
    if canonicalize_name(requirement.name) == own or requirement.url:
        return [f"{pin.line!r}: the project itself or a direct reference, not a pin"]
    problems = []
    specs = list(requirement.specifier)
    if len(specs) != 1 or specs[0].operator != "==" or "*" in specs[0].version:
        problems.append(f"{requirement.name}: pinned as {requirement.specifier!s}, not ==")
    if not any(h.startswith("sha256:") for h in pin.hashes):
        problems.append(f"{requirement.name}: no --hash=sha256:")
    return problems


def stale(pyproject: Path, pinned: Path) -> list[str]:
    """What makes ``pinned`` disagree with ``pyproject``; empty when it is up to date."""
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    text = pinned.read_text()
    own = canonicalize_name(project["name"])
    pins = parse_pins(text)
    problems = [p for pin in pins for p in _pin_problems(pin, own)]
    versions = {
        canonicalize_name(pin.requirement.name): next(iter(pin.requirement.specifier)).version
        for pin in pins
        if pin.requirement is not None and len(pin.requirement.specifier) == 1
    }
    wanted = declared(project, extras_of(text))
    for name, entry in sorted(wanted.items()):
        where = ", ".join(entry.where)
        if entry.extras:
            problems.append(
                f"{name}[{','.join(sorted(entry.extras))}] ({where}): the pins cannot show its "
                "extras' dependencies; declare them directly"
            )
        if name not in versions:
            problems.append(f"{name} ({where}): declared, not pinned")
        elif not entry.specifier.contains(versions[name], prereleases=True):
            problems.append(
                f"{name}=={versions[name]}: pyproject.toml ({where}) asks for {entry.specifier}"
            )
    mark = f"{project['name']} (pyproject.toml)"
    for pin in pins:
        if pin.requirement is None or mark not in pin.via:
            continue
        name = canonicalize_name(pin.requirement.name)
        if name not in wanted and name != own:
            problems.append(f"{name}: pinned via {mark}, which no longer declares it")
    return problems


def test_there_are_pinned_files() -> None:
    names = [path.name for path in FILES]
    assert names == ["requirements-lambda.txt", "requirements.txt"]
    assert {name: extras_of((ROOT / "config" / name).read_text()) for name in names} == {
        "requirements-lambda.txt": ["lambda"],
        "requirements.txt": ["sync"],
    }


@pytest.mark.parametrize("pinned", FILES, ids=lambda path: path.name)
def test_the_pins_match_pyproject(pinned: Path) -> None:
    assert stale(PYPROJECT, pinned) == [], "stale: run make requirements"


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _add_sync_dependency(pyproject: str, pins: str) -> tuple[str, str]:
    return _replace(pyproject, "sync = [\n", 'sync = [\n    "rich>=13",\n'), pins


def _raise_a_floor(pyproject: str, pins: str) -> tuple[str, str]:
    return _replace(pyproject, '"tqdm>=4.60"', '"tqdm>=99"'), pins


def _remove_a_dependency(pyproject: str, pins: str) -> tuple[str, str]:
    return _replace(pyproject, '    "python-dotenv>=1.0",\n', ""), pins


def _drop_a_hash(pyproject: str, pins: str) -> tuple[str, str]:
    return pyproject, re.sub(r"(\ntqdm==\S+) \\\n(    --hash=\S+ \\\n)*    --hash=\S+", r"\1", pins)


def _loosen_a_pin(pyproject: str, pins: str) -> tuple[str, str]:
    return pyproject, re.sub(r"\ntqdm==", "\ntqdm>=", pins)


def _pin_the_project(pyproject: str, pins: str) -> tuple[str, str]:
    return pyproject, pins + "contabyx @ file:///src\n    # via contabyx (pyproject.toml)\n"


def _ask_for_an_extra(pyproject: str, pins: str) -> tuple[str, str]:
    return _replace(pyproject, '"tqdm>=4.60"', '"tqdm[notebook]>=4.60"'), pins


Edit = Callable[[str, str], "tuple[str, str]"]
EDITS: dict[str, tuple[Edit, str]] = {
    "added dependency": (_add_sync_dependency, "rich (extra sync): declared, not pinned"),
    "raised floor": (_raise_a_floor, "pyproject.toml (extra sync) asks for >=99"),
    "removed dependency": (
        _remove_a_dependency,
        "python-dotenv: pinned via contabyx (pyproject.toml), which no longer declares it",
    ),
    "pin without hash": (_drop_a_hash, "tqdm: no --hash=sha256:"),
    "pin not ==": (_loosen_a_pin, "tqdm: pinned as >="),
    "project pinned": (_pin_the_project, "the project itself"),
    "extra of a dependency": (_ask_for_an_extra, "tqdm[notebook] (extra sync)"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_an_edit_makes_the_pins_stale(tmp_path: Path, edit: str) -> None:
    """Each way of going stale, on copies: the checker names it, and only it."""
    change, expected = EDITS[edit]
    pyproject, pins = change(PYPROJECT.read_text(), (ROOT / "config/requirements.txt").read_text())
    (tmp_path / "pyproject.toml").write_text(pyproject)
    (tmp_path / "requirements.txt").write_text(pins)
    problems = stale(tmp_path / "pyproject.toml", tmp_path / "requirements.txt")
    assert len(problems) == 1 and expected in problems[0], problems


def test_an_unchanged_copy_is_not_stale(tmp_path: Path) -> None:
    for path in (PYPROJECT, *FILES):
        shutil.copy(path, tmp_path / path.name)
    for pinned in FILES:
        assert stale(tmp_path / "pyproject.toml", tmp_path / pinned.name) == []


def test_a_self_referencing_extra_brings_its_dependencies() -> None:
    """``http`` names ``contabyx[lambda]``: fastapi and mangum count for it, the project
    itself does not."""
    with PYPROJECT.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    names = set(declared(project, ["http"]))
    assert {"fastapi", "mangum", "uvicorn", "boto3"} <= names
    assert "contabyx" not in names


def test_markers_are_read_for_the_deployed_interpreter() -> None:
    project = {
        "name": "p",
        "dependencies": ["a; sys_platform == 'win32'", "b; python_version >= '3.11'"],
    }
    assert set(declared(project, [])) == {"b"}

"""The declared minimum versions of the runtime dependencies, as pip constraints.

``make min-versions`` installs the product with these constraints into its own
virtualenv, so the oldest versions ``pyproject.toml`` allows are the ones tested.
They are read from ``pyproject.toml`` every time, so the bounds and the test can't
drift apart: each ``name>=X`` of ``[project] dependencies`` and of the ``sync`` extra
becomes ``name==X``.

botocore is not declared (boto3 brings it) but it holds the service models the
product relies on (``ResultFormat``, ``GetStatementResultV2``), so it is pinned
too, at the oldest version the oldest boto3 accepts (read from that boto3's
metadata, through pip).

Usage::

    python scripts/min_versions.py > constraints.txt        # boto3==1.35.51 ...
    python scripts/min_versions.py --no-transitive          # the declared ones only

Example::

    >>> floors(['boto3>=1.35.51', 'tqdm>=4.60,<5'])
    {'boto3': '1.35.51', 'tqdm': '4.60'}
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional

try:
    import tomllib
except ImportError:  # Python < 3.11: the copy pip itself uses
    from pip._vendor import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
#: Pinned at the oldest version their declared parent accepts: name -> parent.
TRANSITIVE = {"botocore": "boto3"}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_FLOOR = re.compile(r">=\s*([0-9][0-9A-Za-z.+!-]*)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _name(requirement: str) -> str:
    match = _NAME.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return _canonical(match.group(1))


def floor(requirement: str) -> Optional[str]:
    """The ``>=`` bound of a requirement (``"boto3>=1.35.51,<2"`` -> ``"1.35.51"``), or None.

    >>> floor("boto3 (<2.0,>=1.35.51)"), floor("types-tqdm")
    ('1.35.51', None)
    """
    spec = requirement.split(";", 1)[0]
    match = _FLOOR.search(spec)
    return match.group(1).rstrip(",)") if match else None


def floors(requirements: List[str]) -> Dict[str, str]:
    """Each requirement's name -> its ``>=`` bound; a requirement without one is an error,
    since its oldest version could not be tested."""
    out: Dict[str, str] = {}
    for requirement in requirements:
        bound = floor(requirement)
        if bound is None:
            raise ValueError(f"{requirement!r} has no lower bound (>=): declare the oldest one")
        out[_name(requirement)] = bound
    return out


#: The extras whose requirements are runtime dependencies too (the sync's).
RUNTIME_EXTRAS = ("sync",)


def declared(pyproject: Path = PYPROJECT) -> List[str]:
    """``[project] dependencies`` of ``pyproject``, and those of its runtime extras."""
    with pyproject.open("rb") as handle:
        project = tomllib.load(handle)["project"]
    extras = project.get("optional-dependencies", {})
    return [*project["dependencies"], *(r for name in RUNTIME_EXTRAS for r in extras.get(name, ()))]


def requires_dist(name: str, version: str) -> List[str]:
    """The ``Requires-Dist`` lines of ``name==version``, as pip resolves it (nothing is
    installed; pip's cache serves repeated calls)."""
    report = subprocess.run(  # noqa: S603 (a fixed argv: this interpreter's pip)
        [
            *(sys.executable, "-m", "pip", "install", "--quiet", "--dry-run", "--no-deps"),
            *("--ignore-installed", "--report", "-", f"{name}=={version}"),
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    installs = json.loads(report)["install"]
    return list(installs[0]["metadata"].get("requires_dist") or [])


def transitive_floor(child: str, parent_requires: List[str]) -> str:
    """The oldest ``child`` that ``parent_requires`` (its parent's Requires-Dist) accepts.

    >>> transitive_floor("botocore", ["botocore (<1.36.0,>=1.35.51)", "jmespath (>=0.7.1)"])
    '1.35.51'
    """
    for requirement in parent_requires:
        if ";" not in requirement and _name(requirement) == child:
            bound = floor(requirement)
            if bound is not None:
                return bound
    raise ValueError(f"no lower bound for {child} in {parent_requires!r}")


def constraints(pyproject: Path = PYPROJECT, *, transitive: bool = True) -> Dict[str, str]:
    """name -> the version to install: the declared floors, plus :data:`TRANSITIVE`'s."""
    pins = floors(declared(pyproject))
    if transitive:
        for child, parent in TRANSITIVE.items():
            pins[child] = transitive_floor(child, requires_dist(parent, pins[parent]))
    return pins


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pyproject", type=Path, default=PYPROJECT)
    parser.add_argument(
        "--no-transitive", action="store_true", help="only the declared dependencies"
    )
    args = parser.parse_args(argv)
    pins = constraints(args.pyproject, transitive=not args.no_transitive)
    sys.stdout.write("".join(f"{name}=={version}\n" for name, version in pins.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

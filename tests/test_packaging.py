"""What ``pip install .`` gives an application that only reads figures.

A clean virtualenv, the product installed from a copy of the source tree with no
extras: the library imports and answers to its public names, the sync's extra
dependencies are absent, and importing the sync says which extra to install.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.integration

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


def _copy_tree(target: Path) -> Path:
    # A copy, so that building the wheel writes nothing into the checkout.
    skip = shutil.ignore_patterns(
        ".git", ".venv", ".devstack", "*.egg-info", "build", "__pycache__"
    )
    return Path(shutil.copytree(ROOT, target, ignore=skip))


@pytest.fixture(scope="module")
def bare_install(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("bare")
    source = _copy_tree(base / "src")
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
            str(source),
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

"""The constraints ``make min-versions`` installs come from pyproject.toml's own bounds.

(Resolving botocore's floor asks pip about boto3, so it is exercised by
``make min-versions`` itself, not here.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.min_versions import PYPROJECT, constraints, declared, floor, floors, transitive_floor

DEVSTACK_PYPROJECT = PYPROJECT.parent / "devstack" / "pyproject.toml"
RUNTIME = {"boto3", "redshift-connector", "python-dotenv", "tqdm"}


def test_every_runtime_dependency_is_pinned_at_its_declared_floor() -> None:
    pins = constraints(transitive=False)
    assert set(pins) == RUNTIME
    for requirement in declared():
        name = requirement.split(">=")[0].strip()
        assert f"{name}>={pins[name]}" in requirement.replace(" ", "")


def test_the_devstack_needs_the_products_boto3() -> None:
    """The emulator serves GetStatementResultV2 from its botocore's model, so it needs
    at least the boto3 the product needs."""
    product = floors(declared())["boto3"]
    assert floors([r for r in declared(DEVSTACK_PYPROJECT) if r.startswith("boto3")]) == {
        "boto3": product
    }


def test_the_boto3_floor_has_the_csv_result_operations() -> None:
    """botocore 1.35.51 is the first whose redshift-data model has ResultFormat and
    GetStatementResultV2 (1.35.50 has neither); boto3 X.Y.Z needs botocore X.Y.Z."""
    version = tuple(int(part) for part in floors(declared())["boto3"].split("."))
    assert version >= (1, 35, 51)


@pytest.mark.parametrize(
    ("requirement", "bound"),
    [
        ("boto3>=1.35.51", "1.35.51"),
        ("tqdm>=4.60,<5", "4.60"),
        ("redshift-connector >= 2.0.884", "2.0.884"),
        ("botocore (<1.36.0,>=1.35.51)", "1.35.51"),
        ("psycopg[binary]>=3.1; python_version >= '3.9'", "3.1"),
        ("types-tqdm", None),
        ("ruff<0.18", None),
    ],
)
def test_the_floor_is_the_greater_or_equal_bound(requirement: str, bound: str | None) -> None:
    assert floor(requirement) == bound


def test_a_dependency_without_a_floor_is_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["boto3>=1.35.51", "tqdm"]\n')
    with pytest.raises(ValueError, match="'tqdm' has no lower bound"):
        constraints(pyproject, transitive=False)


def test_names_are_canonical() -> None:
    assert floors(["Python_Dotenv>=1.0", "redshift.connector>=2.0.884"]) == {
        "python-dotenv": "1.0",
        "redshift-connector": "2.0.884",
    }


def test_botocore_is_pinned_at_the_oldest_version_the_oldest_boto3_accepts() -> None:
    requires = [
        "botocore (<1.36.0,>=1.35.51)",
        "jmespath (<2.0.0,>=0.7.1)",
        "botocore[crt] (<2.0a0,>=1.21.0) ; extra == 'crt'",
    ]
    assert transitive_floor("botocore", requires) == "1.35.51"
    with pytest.raises(ValueError, match="no lower bound for s3transfer"):
        transitive_floor("s3transfer", requires)

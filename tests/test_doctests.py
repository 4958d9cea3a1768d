"""The examples in the docstrings run, so they cannot go stale.

Examples that need AWS (a source, the writer, the prune, the library's lookups) are
literal blocks (``Example::``), which doctest does not run; every ``>>>`` example is
of a pure function and runs here.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

PURE = (
    "contabyx._convert",
    "contabyx._redact",
    "contabyx._validate",
    "contabyx.backoff",
    "contabyx.cli",
    "contabyx.errors",
    "contabyx.layout",
    "dynamo.config",
    "dynamo.errors",
    "dynamo.extract.values",
    "dynamo.load",
    "dynamo.shape",
)

#: Modules that talk to AWS: whatever examples they have must run without it.
AWS = ("contabyx", "contabyx.api", "dynamo.aws", "dynamo.prune", "dynamo.tables")


@pytest.mark.parametrize("name", PURE)
def test_the_examples_of_a_pure_module_run(name: str) -> None:
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert tried > 0, f"{name} has no example left"
    assert failures == 0


@pytest.mark.parametrize("name", AWS)
def test_no_example_of_a_module_that_talks_to_aws_needs_aws(name: str) -> None:
    failures, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failures == 0

"""The examples in the docstrings of the pure modules run, so they cannot go stale.

Modules whose examples need AWS (sources, writer, prune, the library's lookups) are
not in ``PURE``; their examples are to become literal blocks (issue: code easier to
see). ``LITERAL`` lists those that already are: whatever examples they still have
(of their pure functions) run.
"""

from __future__ import annotations

import doctest
import importlib

import pytest

PURE = (
    "contabyx._convert",
    "contabyx.redact",
    "contabyx._validate",
    "contabyx.layout",
    "dynamo.backoff",
    "dynamo.config",
    "dynamo.errors",
    "dynamo.extract.values",
    "dynamo.shape",
)

#: Modules whose examples that need AWS or a stack are literal blocks.
LITERAL = ("dynamo", "dynamo.cli", "dynamo.query", "dynamo.sync", "dynamo.views")


@pytest.mark.parametrize("name", PURE)
def test_the_examples_of_a_pure_module_run(name: str) -> None:
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert tried > 0, f"{name} has no example left"
    assert failures == 0


@pytest.mark.parametrize("name", LITERAL)
def test_no_example_of_a_module_needs_a_stack(name: str) -> None:
    failures, _ = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert failures == 0

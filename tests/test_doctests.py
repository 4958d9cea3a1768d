"""The examples in the docstrings of the pure modules run, so they cannot go stale.

The extract modules are listed too: their examples that need AWS or a warehouse are
literal blocks; what remains (configuration, the ``:name`` rewrite) runs without one.
Modules whose examples still need AWS (writer, prune, the library's lookups) are not
listed; their examples are to become literal blocks (issue: code easier to see).
"""

from __future__ import annotations

import doctest
import importlib

import pytest

PURE = (
    "contabyx._convert",
    "contabyx._redact",
    "contabyx._validate",
    "contabyx.layout",
    "dynamo.backoff",
    "dynamo.config",
    "dynamo.errors",
    "dynamo.extract",
    "dynamo.extract.data_api",
    "dynamo.extract.direct",
    "dynamo.extract.values",
    "dynamo.shape",
)


@pytest.mark.parametrize("name", PURE)
def test_the_examples_of_a_pure_module_run(name: str) -> None:
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert tried > 0, f"{name} has no example left"
    assert failures == 0

"""Every ``>>>`` example in the two packages runs, so none can go stale.

Examples that need AWS (sources, the writer, lookups) are literal blocks
(``Example::``), not doctests; a module listed in ``EXAMPLES`` must keep at least
one runnable example.
"""

from __future__ import annotations

import doctest
import importlib
import os
import pkgutil

import pytest

import contabyx
import dynamo

MODULES = sorted(
    [
        "contabyx",
        "dynamo",
        *(
            info.name
            for package in (contabyx, dynamo)
            for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}.")
        ),
    ]
)
#: Modules whose pure functions are shown by example: they must keep one.
EXAMPLES = frozenset(
    {
        "contabyx._convert",
        "contabyx._validate",
        "contabyx.backoff",
        "contabyx.cli",
        "contabyx.errors",
        "contabyx.layout",
        "contabyx.redact",
        "dynamo.config",
        "dynamo.errors",
        "dynamo.extract",
        "dynamo.extract.data_api",
        "dynamo.extract.direct",
        "dynamo.extract.values",
        "dynamo.load",
        "dynamo.metrics",
        "dynamo.shape",
        "dynamo.sync",
        "dynamo.views",
    }
)


@pytest.mark.parametrize("name", MODULES)
def test_the_examples_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The Lambda entry point makes its DynamoDB client on import (its cold start), which
    # needs a region, as Lambda always gives; making a client calls no AWS.
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    module = importlib.import_module(name)
    failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS, report=True)
    if name in EXAMPLES:
        assert tried > 0, f"{name} has no example left"
    assert failures == 0, f"{failures} of {tried} examples of {name} fail"


def test_every_listed_module_exists() -> None:
    assert set(EXAMPLES) <= set(MODULES)

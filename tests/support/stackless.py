"""pytest plugin: run only the tests that need no local stack, plus chosen stack tests.

``make min-versions`` runs the suite's stackless part (every test that does not use
the ``local_stack`` fixture, directly or through another fixture) and a few named
stack tests, so that the oldest allowed dependencies meet a full sync without the
whole suite's time::

    python -m pytest -p tests.support.stackless --stack-tests tests/dynamo/test_sync.py
"""

from __future__ import annotations

import pytest

STACK_FIXTURE = "local_stack"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack-tests",
        action="append",
        default=[],
        metavar="PATH",
        help="also run the stack tests whose node id starts with PATH (repeatable)",
    )


def needs_stack(fixturenames: list[str]) -> bool:
    """Whether a test uses the local stack (its fixture closure names it)."""
    return STACK_FIXTURE in fixturenames


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    chosen = tuple(config.getoption("--stack-tests"))
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        fixtures = list(getattr(item, "fixturenames", ()))
        wanted = not needs_stack(fixtures) or (chosen and item.nodeid.startswith(chosen))
        (keep if wanted else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    items[:] = keep

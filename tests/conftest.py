"""Shared fixtures: one local stack (devstack) for the whole test session.

Tests are marked so that ``make unit`` can run the ones that need nothing but
Python: ``stack`` (added here to every test whose fixtures reach ``local_stack``)
and ``integration`` (added here for the fixtures below that start servers, and
set by the modules that start processes, open sockets or install packages).
The stack's modules are imported only when a test asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import psycopg

    from devstack.stack import Stack

REPO_ROOT = Path(__file__).resolve().parents[1]
TEST_STACK_DIR = Path(os.environ.get("CONTABYX_TEST_STACK_DIR") or REPO_ROOT / ".devstack" / "test")
TEST_PAGE_SIZE = 100
#: Fixtures (of test modules) that start a server or a process: their tests are integration.
SERVER_FIXTURES = frozenset(
    {"silent", "server", "postgres", "db", "bare_install", "moto_server", "cloudwatch"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "local_stack" in fixtures:
            item.add_marker(pytest.mark.stack)
        if fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class LocalStack:
    """What tests get: the stack's env lines and the warehouse's psycopg conninfo."""

    env: dict[str, str]
    conninfo: str
    stack: Stack = field(repr=False)


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    """The local stack in ``.devstack/test`` (page size 100), reused if running.

    Its variables are in ``os.environ`` for the session; it is stopped at the
    end only if this session started it.
    """
    from devstack.stack import Stack

    stack = Stack(TEST_STACK_DIR)
    env = stack.up(page_size=TEST_PAGE_SIZE)
    started = stack.started_now
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        yield LocalStack(env=dict(env), conninfo=stack.warehouse_conninfo(), stack=stack)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if started:
            stack.down()


@pytest.fixture(scope="session")
def warehouse(local_stack: LocalStack) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit psycopg connection to the local warehouse (database ``dev``)."""
    import psycopg

    with psycopg.connect(local_stack.conninfo, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """CloudWatch's stand-in (moto's server) on a loopback port: its URL."""
    from tests.support.cloudwatch import serve

    yield from serve()


@pytest.fixture()
def cloudwatch(moto_server: str) -> Iterator[str]:
    """The stand-in, emptied of every metric: its URL."""
    import requests

    requests.post(f"{moto_server}/moto-api/reset", timeout=10).raise_for_status()
    yield moto_server

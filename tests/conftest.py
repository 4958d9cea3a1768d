"""Shared fixtures: one local stack (devstack) for the whole test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from devstack.paths import REPO_ROOT
from devstack.stack import Stack

TEST_STACK_DIR = Path(os.environ.get("CONTABYX_TEST_STACK_DIR") or REPO_ROOT / ".devstack" / "test")
TEST_PAGE_SIZE = 100


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
    with psycopg.connect(local_stack.conninfo, autocommit=True) as conn:
        yield conn

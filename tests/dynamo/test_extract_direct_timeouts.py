"""The direct source's timeouts on the local stack: the connect timeout bounds only
connecting; once connected, an answer may take STATEMENT_TIMEOUT + AWS_READ_TIMEOUT.

(A host that accepts and never answers is in ``test_extract_direct.py``.)
"""

from __future__ import annotations

from typing import Any

import pytest

from dynamo.config import Settings
from dynamo.extract import ExtractError
from dynamo.extract.direct import DirectSource
from tests.support.settings import settings_of


def _settings(env: dict[str, str], **overrides: str) -> Settings:
    # The local wire endpoint declines SSL and takes any password.
    return settings_of(
        {"REDSHIFT_SSL": "false", "REDSHIFT_PASSWORD": "local-password", **env, **overrides}
    )


def test_a_statement_may_take_longer_than_the_connect_timeout(local_stack: Any) -> None:
    settings = _settings(local_stack.env, AWS_CONNECT_TIMEOUT="0.2", STATEMENT_TIMEOUT="30")
    with DirectSource.from_settings(settings) as source:
        assert list(source.rows("SELECT pg_sleep(1), :n::int", {"n": 3})) == [("", 3)]


def test_a_warehouse_that_ignores_the_statement_timeout_is_given_up(local_stack: Any) -> None:
    settings = _settings(local_stack.env, STATEMENT_TIMEOUT="0.5", AWS_READ_TIMEOUT="0.5")
    with DirectSource.from_settings(settings) as source:
        ((pid,),) = source.rows("SELECT pg_backend_pid()")
        # The same pooled connection, its server-side limit lifted: only the client's is left.
        source.execute("SET statement_timeout TO 0")
        with pytest.raises(ExtractError) as info:
            list(source.rows("SELECT pg_sleep(5)"))
        message = str(info.value)
        assert "no answer from the warehouse within 1 s" in message
        assert "(STATEMENT_TIMEOUT + AWS_READ_TIMEOUT)" in message and "\n" not in message
        # The timed-out connection was dropped; a new one serves the next statement.
        ((other,),) = source.rows("SELECT pg_backend_pid()")
        assert other != pid

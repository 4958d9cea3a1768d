"""Rendering the views: plain text in, statements out."""

from __future__ import annotations

import pytest

from dynamo.config import ConfigError
from dynamo.views import render_views


def test_plain_views_read_the_local_table_only() -> None:
    statements = render_views()
    assert [s.split()[4] for s in statements] == [
        "contabyx.clients_info",
        "contabyx.clients_info_by_month",
        "contabyx.source_rejects",
    ]
    assert all("NO SCHEMA BINDING" not in s for s in statements)


def test_spectrum_views_union_both_histories() -> None:
    for statement in render_views(spectrum_schema="ext_contabyx"):
        assert "FROM contabyx.transactions UNION ALL" in statement.replace(
            "transactionid, clientid, typeid, time, amount ", ""
        )
        assert "ext_contabyx.transactions" in statement
        assert statement.endswith("WITH NO SCHEMA BINDING")


@pytest.mark.parametrize("name", ["ext; DROP", "1abc", "a.b.c", "ext contabyx", ""])
def test_schema_names_are_identifiers(name: str) -> None:
    with pytest.raises(ConfigError):
        render_views(spectrum_schema=name)

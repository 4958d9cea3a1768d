"""Every endpoint of ``contabyx serve``, through real HTTP requests, against the
independent figures of the seeded rows (tests.support.expected)."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

from tests.http.conftest import BY_YEAR, INFO, expected_json, money, unknown_id
from tests.support.by_year_layout import put_client
from tests.support.expected import ClientFigures
from tests.support.http_server import Served

#: A client written by hand (not seeded), then rewritten.
REWRITTEN = 4_000_000_000_000_001


def sample(expected: dict[int, ClientFigures], n: int, seed: int = 5) -> list[int]:
    ids = sorted(expected)
    return random.Random(seed).sample(ids, min(n, len(ids)))


def test_health_answers(server: Served) -> None:
    status, headers, body = server.get("/health")
    assert status == 200
    assert json.loads(body) == {"status": "ok"}
    assert headers["content-type"] == "application/json"
    assert headers["cache-control"] == "no-store"


def test_a_client_total_year_and_month(server: Served, expected: dict[int, ClientFigures]) -> None:
    for clientid in sample(expected, 12):
        c = expected[clientid]
        for query, by in (
            ("", "total"),
            ("?by=total", "total"),
            ("?by=year", "year"),
            ("?by=month", "month"),
        ):
            status, got = server.json(f"/clients/{clientid}{query}")
            assert status == 200, (clientid, query, got)
            assert got == expected_json(clientid, c, by), (clientid, query)


def test_an_id_above_2_53_is_a_string_and_exact(
    server: Served, expected: dict[int, ClientFigures]
) -> None:
    clientid = max(expected)
    assert clientid > 2**53 and float(clientid) != clientid  # a double would change it
    status, _, body = server.get(f"/clients/{clientid}?by=month")
    assert status == 200
    assert f'"clientid":"{clientid}"' in body.decode()
    got = json.loads(body)
    assert got == expected_json(clientid, expected[clientid], "month")
    status, got = server.json(f"/clients/{clientid}/balance")
    assert (status, got) == (
        200,
        {"clientid": str(clientid), "balance": money(expected[clientid].total.balance)},
    )
    status, got = server.json(f"/clients?ids={clientid},{unknown_id(expected)}")
    assert status == 200
    assert [c["clientid"] for c in got["clients"]] == [str(clientid)]


def test_amounts_are_decimal_strings_and_counts_numbers(
    server: Served, expected: dict[int, ClientFigures]
) -> None:
    clientid = sample(expected, 1)[0]
    _, got = server.json(f"/clients/{clientid}?by=month")
    year = next(iter(got["years"].values()))
    month = next(iter(year["months"].values()))
    for level in (got, year, month):
        for name in ("balance", "income", "expense"):
            assert isinstance(level[name], str) and "." in level[name], (name, level)
        for name in ("income_count", "expense_count"):
            assert type(level[name]) is int


def test_balance_income_expense(server: Served, expected: dict[int, ClientFigures]) -> None:
    for clientid in sample(expected, 8):
        c = expected[clientid]
        year = random.Random(clientid).choice(sorted(c.years))
        month = random.Random(clientid).choice([m for (y, m) in c.months if y == year])
        cases: list[tuple[str, dict[str, Any]]] = [
            (f"/clients/{clientid}/balance", {"balance": money(c.total.balance)}),
            (
                f"/clients/{clientid}/income",
                {"year": None, "month": None, "income": money(c.total.income)},
            ),
            (
                f"/clients/{clientid}/expense",
                {"year": None, "month": None, "expense": money(c.total.expense)},
            ),
            (
                f"/clients/{clientid}/income?year={year}",
                {"year": year, "month": None, "income": money(c.years[year].income)},
            ),
            (
                f"/clients/{clientid}/expense?year={year}",
                {"year": year, "month": None, "expense": money(c.years[year].expense)},
            ),
            (
                f"/clients/{clientid}/income?year={year}&month={month}",
                {"year": year, "month": month, "income": money(c.months[(year, month)].income)},
            ),
            (
                f"/clients/{clientid}/expense?year={year}&month={month}",
                {"year": year, "month": month, "expense": money(c.months[(year, month)].expense)},
            ),
        ]
        for path, want in cases:
            status, got = server.json(path)
            assert status == 200, (path, got)
            assert got == {"clientid": str(clientid), **want}, path


def test_a_client_without_a_given_year_or_month(
    server: Served, expected: dict[int, ClientFigures]
) -> None:
    clientid, year = next(
        (cid, y)
        for cid, c in sorted(expected.items())
        for y in range(min(c.years), max(c.years))
        if y not in c.years
    )
    for name in ("income", "expense"):
        for query in (f"year={year}", f"year={year}&month=6", "year=1999", "year=9999&month=12"):
            status, got = server.json(f"/clients/{clientid}/{name}?{query}")
            assert status == 200, (query, got)
            assert got[name] == "0.00", (query, got)
    _, got = server.json(f"/clients/{clientid}?by=year")
    assert str(year) not in got["years"]
    assert got == expected_json(clientid, expected[clientid], "year")


def test_many_clients_and_unknown_ids_apart(
    server: Served, expected: dict[int, ClientFigures]
) -> None:
    known = sample(expected, 30, seed=11)
    missing = unknown_id(expected)
    ids = [known[0], missing, *known[1:], known[0]]
    for by in ("total", "year", "month"):
        status, got = server.json(f"/clients?ids={','.join(map(str, ids))}&by={by}")
        assert status == 200, got
        assert got == {
            "clients": [expected_json(c, expected[c], by) for c in known],
            "unknown": [str(missing)],
        }


def test_a_hundred_ids_is_the_limit(server: Served, expected: dict[int, ClientFigures]) -> None:
    ids = sorted(expected)[:100]
    status, got = server.json(f"/clients?ids={','.join(map(str, ids))}")
    assert status == 200
    assert len(got["clients"]) == 100
    status, got = server.json(f"/clients?ids={','.join(map(str, [*ids, unknown_id(expected)]))}")
    assert status == 400
    assert got["error"]["code"] == "invalid_ids"


def test_etag_and_304(server: Served, expected: dict[int, ClientFigures]) -> None:
    a, b = sample(expected, 2, seed=17)
    paths = [
        f"/clients/{a}",
        f"/clients/{a}?by=month",
        f"/clients/{a}/balance",
        f"/clients/{a}/income?year=2021",
        f"/clients?ids={a},{b}",
    ]
    tags = set()
    for path in paths:
        status, headers, body = server.get(path)
        assert status == 200
        etag = headers["etag"]
        assert etag.startswith('"') and etag.endswith('"')
        tags.add(etag)
        assert headers["cache-control"].startswith("private, max-age=")
        assert 0 <= int(headers["cache-control"].rsplit("=", 1)[1]) <= 3600
        # The same figures, the same tag; a matching If-None-Match is a bodyless 304.
        assert server.get(path)[1]["etag"] == etag
        for given in (etag, f'"nope", {etag}', f"W/{etag}", "*"):
            status, again, body = server.get(path, {"If-None-Match": given})
            assert (status, body) == (304, b""), (path, given)
            assert again["etag"] == etag
            assert again["cache-control"].startswith("private, max-age=")
        status, _, body = server.get(path, {"If-None-Match": '"something-else"'})
        assert status == 200 and body
    assert len(tags) == len(paths)  # other figures, other tags
    assert server.get(f"/clients/{b}")[1]["etag"] != server.get(f"/clients/{a}")[1]["etag"]


def test_the_etag_changes_when_the_figures_change(
    server: Served, expected: dict[int, ClientFigures]
) -> None:
    """A client's figures rewritten (as a sync would): the old tag no longer matches."""
    clientid = REWRITTEN
    assert clientid not in expected

    def write(income: str) -> None:
        month = {"income": Decimal(income), "balance": Decimal(income), "income_count": 1}
        put_client((INFO, BY_YEAR), clientid, {2024: {1: month}})

    write("1.00")
    _, first, _ = server.get(f"/clients/{clientid}?by=month")
    assert server.get(f"/clients/{clientid}?by=month", {"If-None-Match": first["etag"]})[0] == 304
    write("2.00")
    status, second, body = server.get(
        f"/clients/{clientid}?by=month", {"If-None-Match": first["etag"]}
    )
    assert status == 200
    assert json.loads(body)["years"]["2024"]["months"]["1"]["income"] == "2.00"
    assert second["etag"] != first["etag"]

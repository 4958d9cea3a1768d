"""The pure parts of ``contabyx-etl verify``: the read pacer (on a fake clock), the
attribute-by-attribute comparison, the batches, and the retry of unprocessed keys."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from dynamo import shape
from dynamo.errors import ReadError
from dynamo.verify import (
    BATCH_KEYS,
    Difference,
    ReadPacer,
    TableReport,
    _batches,
    _Reader,
    item_differences,
    read_units,
)


class FakeClock:
    """Time that moves only when something sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def _paced(rate: float, clock: FakeClock) -> ReadPacer:
    return ReadPacer(rate, clock=clock, sleep=clock.sleep)


@pytest.mark.parametrize("seed", range(5))
def test_the_pacer_never_grants_more_than_its_rate_in_any_one_second_window(seed: int) -> None:
    rng = random.Random(seed)
    clock = FakeClock()
    rate = rng.choice([1.0, 7.5, 100.0])
    pacer = _paced(rate, clock)
    grants: list[tuple[float, float]] = []
    for _ in range(300):
        units = rng.choice([0.5, 1.0, 2.5]) * rng.randint(1, 10)
        units = min(units, rate)
        pacer.acquire(units)
        grants.append((clock(), units))
        if rng.random() < 0.1:  # the caller also does other things, taking time
            clock.now += rng.random()
    # Every window (t - 1, t] ending at a grant holds at most `rate` units.
    for end, _ in grants:
        inside = sum(units for at, units in grants if end - 1.0 < at <= end)
        assert inside <= rate + 1e-9, (end, inside, rate)
    assert pacer.total == pytest.approx(sum(units for _, units in grants))
    # And it does wait: the reads took about as long as the rate allows, no less.
    assert clock.now >= pacer.total / rate - 1.0


def test_the_pacer_does_not_wait_while_under_its_rate() -> None:
    clock = FakeClock()
    pacer = _paced(10, clock)
    for _ in range(20):
        pacer.acquire(0.5)
    assert clock.sleeps == []
    pacer.acquire(0.5)  # the 21st half unit is past 10 units in one second
    assert clock.now == pytest.approx(1.0)


def test_a_request_over_the_rate_takes_a_second_s_worth_at_a_time() -> None:
    clock = FakeClock()
    pacer = _paced(10, clock)
    pacer.acquire(35)
    assert clock.now == pytest.approx(3.0)  # 10 at 0 s, 1 s and 2 s, 5 at 3 s


def test_units_charged_after_the_fact_delay_the_next_read() -> None:
    clock = FakeClock()
    pacer = _paced(10, clock)
    pacer.acquire(2)
    pacer.charge(8)  # the read cost 10, not the 2 estimated
    pacer.acquire(1)
    assert clock.now == pytest.approx(1.0)
    pacer.charge(-5)  # a read cheaper than its estimate gives nothing back
    assert pacer.total == pytest.approx(11)


def test_read_units_round_each_item_up_to_4_kb() -> None:
    assert [read_units(n) for n in (1, 4096, 4097, 8192, 409600)] == [0.5, 0.5, 1.0, 1.0, 50.0]


# --- the comparison -------------------------------------------------------------------


def _year_item(run: str = "r") -> dict[str, Any]:
    rows = [
        (7, 2024, 3, Decimal("10.50"), Decimal("0.25"), 1, 1),
        (7, 2024, 4, Decimal("0.00"), Decimal("1.00"), 0, 1),
    ]
    return shape.client_year_item(rows, run=run)


def test_identical_items_do_not_differ_whatever_their_run() -> None:
    assert item_differences(_year_item("a"), _year_item("b")) == []


def test_numbers_are_compared_as_exact_decimals() -> None:
    expected = {"clientid": {"N": "7"}, "income": {"N": "10.50"}}
    assert item_differences(expected, {"clientid": {"N": "7"}, "income": {"N": "10.5"}}) == []
    # 38 digits: equal as floats, not as Decimals.
    wide = "1234567890123456789012345678901234567.1"
    near = "1234567890123456789012345678901234567.2"
    assert float(wide) == float(near)
    assert item_differences({"income": {"N": wide}}, {"income": {"N": near}}) == [
        ("income", wide, near)
    ]


def test_a_nested_figure_is_reported_by_its_path_with_both_values() -> None:
    stored = _year_item()
    stored["y2024"]["M"]["months"]["M"]["m03"]["M"]["expense"] = {"N": "99"}
    assert item_differences(_year_item(), stored) == [("y2024.months.m03.expense", "0.25", "99")]


def test_attributes_missing_or_added_are_differences() -> None:
    stored = _year_item()
    del stored["y2024"]["M"]["months"]["M"]["m04"]
    stored["years"] = {"L": [{"N": "2024"}]}
    stored["y2023"] = {"M": {}}
    assert item_differences(_year_item(), stored) == [
        ("y2023", None, "a map of 0 attributes"),
        ("y2024.months.m04", "a map of 5 attributes", None),
        ("years", None, '{"L": [{"N": "2024"}]}'),
    ]


def test_a_difference_reads_as_one_line() -> None:
    lines = [
        Difference("t", 1, "missing").line(),
        Difference("t", 2, "extra").line(),
        Difference("t", 3, "wrong", "y2024.income", "1.50", None).line(),
    ]
    assert lines == [
        "t: client 1 missing (in the snapshot, not in DynamoDB)",
        "t: client 2 extra (in DynamoDB, not in the snapshot)",
        "t: client 3 wrong y2024.income: expected 1.50, stored nothing",
    ]


# --- batches and reads ------------------------------------------------------------------


def _items(count: int) -> list[dict[str, Any]]:
    row = (0, Decimal("1.00"), Decimal("1.00"), Decimal("0.00"), 1, 0)
    return [shape.client_item((i, *row[1:]), run="") for i in range(count)]


def test_batches_hold_at_most_100_keys_and_the_units_of_one_second() -> None:
    assert [len(b) for b in _batches(_items(250), most_units=1000)] == [BATCH_KEYS, 100, 50]
    assert [len(b) for b in _batches(_items(25), most_units=5)] == [10, 10, 5]
    assert [len(b) for b in _batches(_items(3), most_units=0.1)] == [1, 1, 1]


class _UnprocessedFirst:
    """A DynamoDB client whose BatchGetItem leaves every other key unprocessed (every
    key with ``serve=0``) for ``rounds`` requests."""

    def __init__(self, stored: dict[int, dict[str, Any]], rounds: int = 1, serve: int = 2) -> None:
        self.stored, self.rounds, self.serve = stored, rounds, serve
        self.calls: list[int] = []

    def batch_get_item(self, RequestItems: dict[str, Any], **_: Any) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        keys = request["Keys"]
        self.calls.append(len(keys))
        cut = (len(keys) + 1) // 2 if self.serve else 0
        served, left = (keys[:cut], keys[cut:]) if self.rounds > 0 else (keys, [])
        self.rounds -= 1
        found = [self.stored[int(k["clientid"]["N"])] for k in served]
        answer: dict[str, Any] = {"Responses": {table: found}, "UnprocessedKeys": {}}
        if left:
            answer["UnprocessedKeys"] = {table: {"Keys": left}}
        return answer


def test_unprocessed_keys_are_read_again_after_a_backoff() -> None:
    items = _items(10)
    client = _UnprocessedFirst({int(i["clientid"]["N"]): i for i in items})
    clock = FakeClock()
    report = TableReport("t")
    reader = _Reader(client, "t", _paced(100, clock), report, max_retries=3, sleep=clock.sleep)
    assert sorted(reader.get(items)) == list(range(10))
    assert client.calls == [10, 5]
    assert report.retries == 1 and len(clock.sleeps) == 1
    assert report.read_units == pytest.approx(7.5)  # no ConsumedCapacity: the estimates


def test_keys_left_unprocessed_too_often_fail_in_one_line() -> None:
    items = _items(4)
    client = _UnprocessedFirst({int(i["clientid"]["N"]): i for i in items}, rounds=99, serve=0)
    clock = FakeClock()
    reader = _Reader(
        client, "t", _paced(100, clock), TableReport("t"), max_retries=2, sleep=clock.sleep
    )
    with pytest.raises(ReadError, match="lower --max-read-units") as raised:
        reader.get(items)
    assert "\n" not in str(raised.value)
    assert client.calls == [4, 4, 4]  # the first request and two retries


def test_the_summary_line_counts_each_kind_and_the_clients_not_storable() -> None:
    from dynamo.cli import _verify_line

    full = TableReport("ci", clients=5, differences=[Difference("ci", 1, "missing")])
    sampled = TableReport("ciby", clients=3, sample=3, unstorable=1)
    assert _verify_line([full, sampled]) == (
        "verified ci: 5 clients, 1 missing, 0 extra, 0 wrong; "
        "ciby: 3 clients sampled, 0 missing, 0 extra, 0 wrong, 1 not storable: 1 difference"
    )

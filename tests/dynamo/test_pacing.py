"""The write pacer on a fake clock: the cap holds over every window, whatever the batches."""

from __future__ import annotations

import threading
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dynamo.pacing import WINDOW_SECONDS, WritePacer


class FakeClock:
    """Exact time (Fractions) that moves only when the pacer sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = Fraction(0)
        self.slept: list[Fraction] = []

    def __call__(self) -> Fraction:
        return self.now

    def sleep(self, seconds: Fraction) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.now += seconds


def _window_breaches(sends: list[tuple[Fraction, int]], budget: int) -> list[object]:
    """Windows of WINDOW_SECONDS holding more than ``budget`` units, unless one batch
    alone (one bigger than the budget goes alone). The heaviest window ends at a send."""
    breaches: list[object] = []
    for end, _ in sends:
        inside = [(t, u) for t, u in sends if t <= end and end - t < WINDOW_SECONDS]
        if sum(u for _, u in inside) > budget and len(inside) > 1:
            breaches.append((end, inside))
    return breaches


batches = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=120),  # units of a batch (25 by-year items: ~100)
        st.fractions(min_value=0, max_value=4, max_denominator=8),  # time before it is ready
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(per_second=st.integers(min_value=1, max_value=30), batches=batches)
def test_no_window_of_five_seconds_holds_more_than_the_cap(
    per_second: int, batches: list[tuple[int, Fraction]]
) -> None:
    clock = FakeClock()
    pacer = WritePacer(per_second, clock=clock, sleep=clock.sleep)
    sends = []
    for units, idle in batches:
        clock.now += idle
        at = pacer.take(units)
        assert at == clock.now  # it returned when it may send, not before
        sends.append((at, units))
    assert _window_breaches(sends, per_second * WINDOW_SECONDS) == []


@settings(max_examples=60, deadline=None)
@given(per_second=st.integers(min_value=1, max_value=30), batches=batches)
def test_a_batch_waits_only_as_long_as_the_cap_needs(
    per_second: int, batches: list[tuple[int, Fraction]]
) -> None:
    """Sent any earlier, each batch would breach a window: the pacer does not over-wait."""
    clock = FakeClock()
    pacer = WritePacer(per_second, clock=clock, sleep=clock.sleep)
    sends: list[tuple[Fraction, int]] = []
    for units, idle in batches:
        clock.now += idle
        ready = clock.now
        at = pacer.take(units)
        if at > ready:
            earlier = at - Fraction(1, 1000)
            assert _window_breaches([*sends, (earlier, units)], pacer.budget), (sends, units)
        sends.append((at, units))


def test_a_batch_bigger_than_the_budget_goes_alone_rather_than_never() -> None:
    clock = FakeClock()
    pacer = WritePacer(2, clock=clock, sleep=clock.sleep)  # 10 units per window
    assert pacer.take(4) == 0
    assert pacer.take(25) == 5  # once the 4 units have left the window
    assert pacer.take(1) == 10  # nothing shares a window with the 25
    assert clock.slept == [5, 5]


def test_without_pressure_nothing_waits() -> None:
    clock = FakeClock()
    pacer = WritePacer(10, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        pacer.take(10)
        clock.now += 1
    assert clock.slept == []


def test_units_charged_after_the_fact_delay_the_next_batch() -> None:
    clock = FakeClock()
    pacer = WritePacer(2, clock=clock, sleep=clock.sleep)
    pacer.take(1)
    pacer.charge(9)  # DynamoDB billed 10 for a batch estimated at 1
    assert pacer.take(1) == 5


def test_threads_sharing_one_pacer_keep_the_cap() -> None:
    """Eight writer threads at once on a frozen clock: their reservations keep the cap."""
    clock = FakeClock()
    pacer = WritePacer(20, clock=clock, sleep=lambda _s: None)
    sends: list[tuple[Fraction, int]] = []
    lock = threading.Lock()

    def writer(seed: int) -> None:
        for n in range(40):
            units = (seed * 7 + n * 13) % 60 + 1
            at = pacer.take(units)
            with lock:
                sends.append((at, units))

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(sends) == 320
    assert _window_breaches(sorted(sends), pacer.budget) == []


def test_a_cap_below_one_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        WritePacer(0)


@settings(max_examples=60, deadline=None)
@given(
    per_second=st.integers(min_value=1, max_value=30),
    start=st.floats(min_value=0, max_value=1e7),
    batches=st.lists(
        st.tuples(st.integers(1, 120), st.floats(min_value=0, max_value=4)),
        min_size=1,
        max_size=60,
    ),
)
def test_the_cap_holds_on_a_float_clock_too(
    per_second: int, start: float, batches: list[tuple[int, float]]
) -> None:
    """The monotonic clock is a float: rounding must not let a send into a full window."""
    now = [start]
    pacer = WritePacer(per_second, clock=lambda: now[0], sleep=lambda s: None)
    sends = []
    for units, idle in batches:
        now[0] = max(now[0] + idle, sends[-1][0] if sends else now[0])
        sends.append((pacer.take(units), units))
    assert _window_breaches(sends, pacer.budget) == []  # type: ignore[arg-type]

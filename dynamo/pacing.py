"""Pacing: keep the sync's DynamoDB writes under a cap of write units per second.

A cap of N (``MAX_WRITE_UNITS``, ``--max-write-units``) means: over any window of
:data:`WINDOW_SECONDS`, the batches sent hold at most N times that many units.
A window, not one second, because DynamoDB counts capacity over a few seconds
too, and a batch of by-year items alone can hold more units than one second allows.

Every writer thread asks the one :class:`WritePacer` of the run before each
``BatchWriteItem``. Each call reserves the earliest time its batch fits, after
the reservations made before it, so a big batch is not overtaken forever by
small ones; a batch bigger than the whole budget goes alone, once the window is
empty, rather than never.

>>> now = [0.0]
>>> pacer = WritePacer(10, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
>>> [pacer.take(30) for _ in range(3)]   # 50 units per window: the second waits 5 s
[0.0, 5.0, 10.0]
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

#: The window, in seconds, over which the cap holds.
WINDOW_SECONDS = 5


class WritePacer:
    """At most ``units_per_second * WINDOW_SECONDS`` units sent in any window of
    ``WINDOW_SECONDS``; safe to share between threads.

    ``clock`` and ``sleep`` are injectable so that tests run on a fake clock.
    """

    def __init__(
        self,
        units_per_second: int,
        *,
        clock: Callable[[], Any] = time.monotonic,
        sleep: Callable[[Any], None] = time.sleep,
    ) -> None:
        if units_per_second < 1:
            raise ValueError("units_per_second must be at least 1")
        self.budget = units_per_second * WINDOW_SECONDS
        self._clock, self._sleep = clock, sleep
        #: (time, units) of every batch sent, or due, in the last window, oldest first.
        self._sent: deque[tuple[Any, int]] = deque()
        self._lock = threading.Lock()

    def take(self, units: int) -> Any:
        """Wait until a batch of ``units`` may be sent; the clock's time when it may."""
        with self._lock:
            now = self._clock()
            while self._sent and now - self._sent[0][0] >= WINDOW_SECONDS:
                self._sent.popleft()
            at = self._fit(max(now, self._sent[-1][0]) if self._sent else now, units)
            self._sent.append((at, units))
        # Sleeping outside the lock: the other threads reserve their own times meanwhile.
        if at > now:
            self._sleep(at - now)
        return at

    def charge(self, units: int) -> None:
        """Count ``units`` more against the latest reservation, without waiting: what
        DynamoDB billed beyond the estimate (an overwritten bigger item, a delete)."""
        if units <= 0:
            return
        with self._lock:
            at = max(self._clock(), self._sent[-1][0]) if self._sent else self._clock()
            self._sent.append((at, units))

    def _fit(self, at: Any, units: int) -> Any:
        """The earliest time from ``at`` at which ``units`` more keep every window
        within the budget: the oldest sends leave the window one by one until they do."""
        window = [(t, u) for t, u in self._sent if at - t < WINDOW_SECONDS]
        used = sum(u for _, u in window)
        for t, u in window:
            if used + units <= self.budget:
                break
            used -= u
            at = _after_window(t)
        return at


def _after_window(t: Any) -> Any:
    """The first time at which a send at ``t`` is out of the window (float rounding
    may land ``t + WINDOW_SECONDS`` a hair short of it)."""
    at = t + WINDOW_SECONDS
    while at - t < WINDOW_SECONDS:
        at = math.nextafter(at, math.inf)
    return at

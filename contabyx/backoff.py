"""Exponential backoff with full jitter: the one retry wait of the sync and the library.

Shared by the sync (its DynamoDB writes, the prune ``Scan``, Data API submissions)
and the client library (``BatchGetItem`` keys left unprocessed). It lives here, in
the library, because the sync may import the library and never the reverse.

The wait before retry ``n`` (1 for the first retry) is uniform in
``[0, min(cap, base * 2**n)]``, so that many workers throttled together do
not come back together (AWS Architecture Blog, "Exponential Backoff And Jitter").

>>> delay(1, rand=lambda: 1.0)
0.1
>>> delay(10, rand=lambda: 1.0)
5.0
>>> delay(3, rand=lambda: 0.5)
0.2
"""

from __future__ import annotations

import random
from typing import Callable

__all__ = ["BASE", "CAP", "delay"]

#: Seconds: retry ``n`` waits up to ``BASE * 2**n``.
BASE = 0.05
#: No wait is longer than 5 s.
CAP = 5.0


def delay(
    attempt: int,
    *,
    base: float = BASE,
    cap: float = CAP,
    rand: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (see the module docstring)."""
    if attempt < 0:
        raise ValueError(f"attempt must be 0 or more, not {attempt}")
    # Bounding the exponent keeps a large attempt from overflowing the float.
    window: float = min(cap, base * 2.0 ** min(attempt, 64))
    return window * rand()

"""The sync's backoff is the one the library uses: :mod:`contabyx.backoff`.

Kept so that ``from dynamo import backoff`` still works (the Data API source uses it).
"""

from __future__ import annotations

from contabyx.backoff import BASE, CAP, delay

__all__ = ["BASE", "CAP", "delay"]

"""Argument checks: pure functions, no I/O. Every public method calls them first.

Wrong types raise :class:`TypeError`, wrong values :class:`ValueError`; ``bool`` is
not accepted where an ``int`` is expected even though it is a subclass of ``int``.

>>> check_id(42)
42
>>> check_period(2019, None)
(2019, None)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from contabyx.layout import MAX_YEAR, MIN_YEAR

#: ``clientid`` is a BIGINT in the warehouse: no stored client has a larger id.
MAX_ID: Final = 2**63 - 1

RETURN_TYPES: Final = ("total", "by_year", "by_month")

_TABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,255}")


def _describe(value: object) -> str:
    return type(value).__name__


def check_id(id: object, name: str = "id") -> int:
    """``id`` as a plain ``int``; TypeError unless an int (bool rejected), ValueError
    unless ``0 <= id <= MAX_ID``."""
    if isinstance(id, bool) or not isinstance(id, int):
        raise TypeError(f"{name} must be an int, not {_describe(id)}")
    value = int(id)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    if value > MAX_ID:
        raise ValueError(f"{name} must be <= {MAX_ID} (a BIGINT client id), got {value}")
    return value


def check_period(year: object, month: object) -> tuple[int | None, int | None]:
    """``(year, month)`` as ints or None. Types are checked before values: TypeError
    for a non-int; ValueError for a year outside 1..9999, a month outside 1..12, or a
    month without a year."""
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise TypeError(f"year must be an int or None, not {_describe(year)}")
    if month is not None and (isinstance(month, bool) or not isinstance(month, int)):
        raise TypeError(f"month must be an int or None, not {_describe(month)}")
    y = None if year is None else int(year)
    m = None if month is None else int(month)
    if y is not None and not MIN_YEAR <= y <= MAX_YEAR:
        raise ValueError(f"year must be between {MIN_YEAR} and {MAX_YEAR}, got {y}")
    if m is not None:
        if not 1 <= m <= 12:
            raise ValueError(f"month must be between 1 and 12, got {m}")
        if y is None:
            raise ValueError("month needs a year: pass year= as well")
    return y, m


def check_return_type(return_type: object) -> str:
    """``return_type`` if it is one of :data:`RETURN_TYPES`, else ValueError listing them."""
    if isinstance(return_type, str) and return_type in RETURN_TYPES:
        return return_type
    valid = ", ".join(repr(r) for r in RETURN_TYPES)
    raise ValueError(f"return_type must be one of {valid}, got {return_type!r:.80}")


def check_ids(ids: object) -> list[int]:
    """Every id of an iterable of ints, checked, duplicates dropped, first-seen order.
    TypeError when ``ids`` is not an iterable (a str or bytes is not accepted)."""
    if isinstance(ids, (str, bytes, bytearray)) or not isinstance(ids, Iterable):
        raise TypeError(f"ids must be an iterable of int, not {_describe(ids)}")
    seen: dict[int, None] = {}
    for index, each in enumerate(ids):
        seen[check_id(each, name=f"ids[{index}]")] = None
    return list(seen)


def check_table_name(name: object, parameter: str) -> str:
    """A DynamoDB table name: 3 to 255 characters among ``a-z A-Z 0-9 _ - .``."""
    if not isinstance(name, str):
        raise TypeError(f"{parameter} must be a str, not {_describe(name)}")
    if not _TABLE_NAME.fullmatch(name):
        raise ValueError(
            f"{parameter} is not a valid DynamoDB table name ({name!r:.80}): "
            "3 to 255 characters among a-z, A-Z, 0-9, '_', '-' and '.'"
        )
    return name


def check_kinds(
    strings: Mapping[str, object], flags: Mapping[str, object], counts: Mapping[str, object]
) -> None:
    """TypeError or ValueError for the first argument that is not of its kind: a str
    or None, a bool, an int >= 1.

    >>> check_kinds({"region_name": None}, {"exact": True}, {"max_attempts": 0})
    Traceback (most recent call last):
    ValueError: max_attempts must be >= 1, got 0
    """
    for name, value in strings.items():
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{name} must be a str or None, not {_describe(value)}")
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be a bool, not {_describe(flag)}")
    for name, number in counts.items():
        if isinstance(number, bool) or not isinstance(number, int):
            raise TypeError(f"{name} must be an int, not {_describe(number)}")
        if number < 1:
            raise ValueError(f"{name} must be >= 1, got {number}")


def check_credentials(key_id: object, secret: object, token: object) -> None:
    """ValueError unless the explicit keys come both or not at all, a token with them."""
    if (key_id is None) != (secret is None):
        raise ValueError("pass both aws_access_key_id and aws_secret_access_key, or neither")
    if token is not None and key_id is None:
        raise ValueError("aws_session_token needs aws_access_key_id and aws_secret_access_key")

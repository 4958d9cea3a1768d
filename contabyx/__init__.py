"""contabyx: per-client balance, income and expense, read from DynamoDB in milliseconds.

The lookups are :class:`contabyx.api.contabyxAPI`'s methods; every failure is a
:class:`contabyx.errors.ContabyxError`.

Example::

    from contabyx import contabyxAPI, ClientNotFound
    api = contabyxAPI(region_name="eu-west-1")
    api.balance(42)                                          # 10.5
    api.client(42, "by_year")["years"][2019]["income"]       # 1200.0
"""

from __future__ import annotations

from contabyx import errors, redact
from contabyx.api import ContabyxAPI, contabyxAPI
from contabyx.errors import *  # noqa: F403  (the failures: their list is errors.__all__)

__version__ = "0.1.0"

redact.install()

__all__ = ["ContabyxAPI", "__version__", "contabyxAPI"]
__all__ += errors.__all__

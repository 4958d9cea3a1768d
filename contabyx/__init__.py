"""contabyx: per-client balance, income and expense, read from DynamoDB in milliseconds.

>>> from contabyx import contabyxAPI, ClientNotFound
>>> api = contabyxAPI(region_name="eu-west-1")
>>> api.balance(42)
10.5
>>> api.client(42, "by_year")["years"][2019]["income"]
1200.0
"""

from __future__ import annotations

from contabyx import redact
from contabyx.api import ContabyxAPI, contabyxAPI
from contabyx.errors import (
    AccessDenied,
    ClientNotFound,
    ConfigurationError,
    ConnectionFailed,
    ContabyxError,
    CredentialsError,
    IncompleteClient,
    InconsistentClient,
    OutdatedItem,
    ServiceError,
    TableNotFound,
    Throttled,
)

__version__ = "0.1.0"

redact.install()

__all__ = [
    "AccessDenied",
    "ClientNotFound",
    "ConfigurationError",
    "ConnectionFailed",
    "ContabyxAPI",
    "ContabyxError",
    "CredentialsError",
    "IncompleteClient",
    "InconsistentClient",
    "OutdatedItem",
    "ServiceError",
    "TableNotFound",
    "Throttled",
    "__version__",
    "contabyxAPI",
]

"""The AWS Lambda entry point of the HTTP API: ``contabyx.aws_lambda.handler``.

It serves API Gateway HTTP API events (payload format 2.0) and Lambda function URL
events through Mangum, the ASGI adapter, with the same application as ``contabyx
serve`` (:mod:`contabyx.http_api`). The DynamoDB client (one
:class:`~contabyx.api.contabyxAPI`) is made once per execution environment, at cold
start, and reused by every invocation.

Settings, from the function's environment: ``CLIENTS_INFO_TABLE`` and
``CLIENTS_INFO_BY_YEAR_TABLE`` (as for the sync), ``HTTP_CACHE_MAX_AGE`` and
``SYNC_AT_UTC`` (:class:`~contabyx.http_api.HttpSettings`), ``AWS_READ_TIMEOUT`` and
``AWS_CONNECT_TIMEOUT`` (as for the library). The region is Lambda's ``AWS_REGION``
and the credentials are the function's role. Callers are authenticated by API
Gateway (IAM authorization, SigV4) or the function URL's ``AWS_IAM`` auth type,
never here.
"""

from __future__ import annotations

import os

from mangum import Mangum

from contabyx.api import contabyxAPI
from contabyx.http_api import HttpSettings, create_app
from contabyx.layout import CLIENTS_INFO_BY_YEAR_TABLE, CLIENTS_INFO_TABLE

__all__ = ["api", "app", "handler"]

#: One DynamoDB client per process, made at cold start.
api = contabyxAPI(
    exact=True,
    clients_info_table=os.environ.get("CLIENTS_INFO_TABLE") or CLIENTS_INFO_TABLE,
    clients_info_by_year_table=(
        os.environ.get("CLIENTS_INFO_BY_YEAR_TABLE") or CLIENTS_INFO_BY_YEAR_TABLE
    ),
)
app = create_app(api, HttpSettings.from_env())
#: The function's handler: ``handler(event, context)``.
handler = Mangum(app, lifespan="off")

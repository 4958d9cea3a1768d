"""The HTTP API: the figures of :class:`~contabyx.api.contabyxAPI` as read-only JSON.

One ASGI application (:func:`create_app`) serves both ways of running it: AWS Lambda
behind API Gateway or a function URL (:mod:`contabyx.aws_lambda`), and the local
server ``contabyx serve``. The application and the Lambda handler need the ``lambda``
extra (FastAPI, Mangum); ``contabyx serve`` needs the ``http`` extra, which adds the server
(``pip install 'contabyx[http]'``).

Exact numbers for every client, JavaScript included: client ids are JSON strings
(``"9007199254740993"``: ids go past 2**53, where doubles stop being exact, as
proto3's JSON does for int64), and amounts are decimal strings with at least two
decimals (``"-123.45"``), taken from the library's exact ``Decimal``; counts, years and
months stay JSON numbers.

Every success carries an ``ETag``, the SHA-256 of its body (so it changes exactly when
the figures it shows change), answers a matching ``If-None-Match`` with 304, and a
``Cache-Control: private, max-age=N``: until the next sync is due, at most
``HTTP_CACHE_MAX_AGE`` seconds. Errors are ``{"error": {"code", "message"}}``: a stable
code and one line, never a traceback or a credential.

Build it once per process, around one library instance::

    app = create_app(contabyxAPI(exact=True), HttpSettings.from_env())
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Annotated, Any, Callable, Literal, Optional, TypeVar, Union, cast

from fastapi import FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from contabyx import __version__
from contabyx.api import contabyxAPI
from contabyx.errors import (
    AccessDenied,
    ClientNotFound,
    ConfigurationError,
    ConnectionFailed,
    ContabyxError,
    CredentialsError,
    InconsistentClient,
    TableNotFound,
    Throttled,
)
from contabyx.layout import MAX_YEAR, MIN_YEAR

__all__ = ["MAX_IDS", "HttpSettings", "cache_seconds", "create_app", "encode_amount"]

log = logging.getLogger("contabyx.http")

#: ``GET /clients?ids=`` takes at most this many ids (one BatchGetItem).
MAX_IDS = 100
#: Seconds a client waits after a 503 (DynamoDB throttled) before trying again.
RETRY_AFTER_SECONDS = 1
MAX_AGE_ENV = "HTTP_CACHE_MAX_AGE"
SYNC_AT_ENV = "SYNC_AT_UTC"
DEFAULT_MAX_AGE = 3600
DEFAULT_SYNC_AT = time(0, 0)

_BY = {"total": "total", "year": "by_year", "month": "by_month"}
_INTEGER = re.compile(r"[+-]?[0-9]{1,40}")
_ID_PATTERN = r"^[0-9]{1,19}$"
_IDS_PATTERN = r"^[0-9]{1,19}(,[0-9]{1,19}){0,99}$"
_AMOUNT_PATTERN = r"^-?[0-9]+\.[0-9]{2,}$"
_NO_STORE = {"Cache-Control": "no-store"}


# --- settings -----------------------------------------------------------------------


@dataclass(frozen=True)
class HttpSettings:
    """How long clients may cache: until the next sync is due (``sync_at``, UTC, the
    time of the cron line), and never longer than ``max_age`` seconds (a sync runs for
    minutes: a response served during it must not be kept for a day)."""

    max_age: int = DEFAULT_MAX_AGE
    sync_at: time = DEFAULT_SYNC_AT

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None) -> HttpSettings:
        """``HTTP_CACHE_MAX_AGE`` (seconds >= 0) and ``SYNC_AT_UTC`` (``HH:MM``) from the
        environment; ConfigurationError naming the variable when one is malformed."""
        env = os.environ if environ is None else environ
        raw_age = env.get(MAX_AGE_ENV, "").strip()
        max_age = DEFAULT_MAX_AGE
        if raw_age:
            if not raw_age.isdigit():
                raise ConfigurationError(
                    f"{MAX_AGE_ENV}={raw_age!r:.40} is not a number of seconds >= 0"
                )
            max_age = int(raw_age)
        raw_at = env.get(SYNC_AT_ENV, "").strip()
        sync_at = DEFAULT_SYNC_AT
        if raw_at:
            try:
                sync_at = datetime.strptime(raw_at, "%H:%M").time()
            except ValueError:
                raise ConfigurationError(
                    f"{SYNC_AT_ENV}={raw_at!r:.40} is not a time of day HH:MM (UTC)"
                ) from None
        return cls(max_age=max_age, sync_at=sync_at)


def cache_seconds(now: datetime, settings: HttpSettings) -> int:
    """Seconds from ``now`` (aware) to the next sync, capped at ``settings.max_age``.

    >>> settings = HttpSettings(max_age=3600, sync_at=time(0, 0))
    >>> cache_seconds(datetime(2026, 1, 1, 23, 50, tzinfo=timezone.utc), settings)
    600
    >>> cache_seconds(datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc), settings)
    3600
    """
    now = now.astimezone(timezone.utc)
    due = datetime.combine(now.date(), settings.sync_at, tzinfo=timezone.utc)
    if due <= now:
        due += timedelta(days=1)
    return max(0, min(settings.max_age, int((due - now).total_seconds())))


# --- encoding -----------------------------------------------------------------------


def encode_amount(value: Decimal) -> str:
    """An exact amount as a decimal string with at least two decimals, no exponent.

    >>> encode_amount(Decimal("10.50")), encode_amount(Decimal("-0"))
    ('10.50', '0.00')
    >>> encode_amount(Decimal("1E+3")), encode_amount(Decimal("0.125"))
    ('1000.00', '0.125')
    """
    if value == 0:
        return "0.00"
    text = format(value, "f")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _level(figures: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in figures.items():
        if name == "clientid":
            out[name] = str(value)
        elif isinstance(value, Decimal):
            out[name] = encode_amount(value)
        elif name == "years":
            out[name] = {str(y): _level(level) for y, level in value.items()}
        elif name == "months":
            out[name] = {str(m): _level(level) for m, level in value.items()}
        else:
            out[name] = value
    return out


def _body(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


# --- the documented shapes (OpenAPI is generated from these) ------------------------

Amount = Annotated[
    str,
    Field(
        pattern=_AMOUNT_PATTERN,
        description="An exact amount: a decimal string with at least two decimals.",
        examples=["1234.50"],
    ),
]
ClientId = Annotated[
    str,
    Field(
        pattern=_ID_PATTERN,
        description="A client id (a BIGINT) as a decimal string: ids go past 2**53.",
        examples=["9007199254740993"],
    ),
]
Count = Annotated[int, Field(ge=0, description="Number of transactions.")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Figures(_Strict):
    """Balance (income minus expense), income and expense, with their counts."""

    balance: Amount
    income: Amount
    expense: Amount
    income_count: Count
    expense_count: Count


_FIGURES_EXAMPLE: dict[str, Any] = {
    "balance": "-40.05",
    "income": "100.10",
    "expense": "140.15",
    "income_count": 1,
    "expense_count": 2,
}
_TOTAL_EXAMPLE: dict[str, Any] = {
    "clientid": "9007199254740993",
    "balance": "45192.99",
    "income": "111583.31",
    "expense": "66390.32",
    "income_count": 301,
    "expense_count": 512,
}


class YearWithMonths(Figures):
    """A year's figures and those of each month of it that has a transaction."""

    months: dict[Annotated[str, Field(pattern=r"^([1-9]|1[0-2])$")], Figures] = Field(
        description="Months 1 to 12 with at least one transaction, keyed by number."
    )


_YEARS = "Years with at least one transaction, keyed by year (only those appear)."
_YEAR_KEY = Annotated[str, Field(pattern=r"^[0-9]{1,4}$")]


class ClientTotal(Figures):
    """The client's figures over all time."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_TOTAL_EXAMPLE]})
    clientid: ClientId


class ClientByYear(ClientTotal):
    """Totals and each year (``?by=year``), all from one sync run."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{**_TOTAL_EXAMPLE, "years": {"2023": _FIGURES_EXAMPLE}}]},
    )
    years: dict[_YEAR_KEY, Figures] = Field(description=_YEARS)


class ClientByMonth(ClientTotal):
    """Totals, each year and each month (``?by=month``), all from one sync run."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    **_TOTAL_EXAMPLE,
                    "years": {"2023": {**_FIGURES_EXAMPLE, "months": {"7": _FIGURES_EXAMPLE}}},
                }
            ]
        },
    )
    years: dict[_YEAR_KEY, YearWithMonths] = Field(description=_YEARS)


AnyClient = Union[ClientByMonth, ClientByYear, ClientTotal]


class Clients(_Strict):
    """The known clients of the request, in its order, and the unknown ids apart."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"clients": [_TOTAL_EXAMPLE], "unknown": ["424242"]}]},
    )
    clients: list[AnyClient]
    unknown: list[ClientId] = Field(description="Requested ids that no client has.")


class Balance(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"clientid": "11052", "balance": "45192.99"}]},
    )
    clientid: ClientId
    balance: Amount


_PERIOD_YEAR = Field(description="The year asked for; null: all time.")
_PERIOD_MONTH = Field(description="The month asked for; null: the whole year or all time.")


class Income(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"clientid": "11052", "year": 2024, "month": None, "income": "12338.82"}]
        },
    )
    clientid: ClientId
    year: Optional[int] = _PERIOD_YEAR
    month: Optional[int] = _PERIOD_MONTH
    income: Amount


class Expense(_Strict):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"clientid": "11052", "year": 2022, "month": 6, "expense": "6193.90"}]
        },
    )
    clientid: ClientId
    year: Optional[int] = _PERIOD_YEAR
    month: Optional[int] = _PERIOD_MONTH
    expense: Amount


class Health(_Strict):
    status: Literal["ok"]


class ErrorDetail(_Strict):
    code: str = Field(
        description="Stable and machine-readable: client_not_found, not_found, "
        "invalid_clientid, invalid_year, invalid_month, invalid_by, invalid_ids, "
        "throttled, dynamodb_unavailable, dynamodb_error, inconsistent_data, "
        "misconfigured, internal_error.",
        examples=["client_not_found"],
    )
    message: str = Field(description="One line for a person.", examples=["client 42 not found"])


class Error(_Strict):
    error: ErrorDetail


def _error_response(description: str, example: dict[str, str]) -> dict[str, Any]:
    return {
        "model": Error,
        "description": description,
        "content": {"application/json": {"example": {"error": example}}},
    }


_CACHE_HEADERS = {
    "ETag": {
        "description": "SHA-256 of the body: changes exactly when the figures shown change.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "private, max-age: until the next sync is due, at most "
        "HTTP_CACHE_MAX_AGE seconds.",
        "required": True,
        "schema": {"type": "string", "pattern": "^private, max-age=[0-9]+$"},
    },
}
_BAD = _error_response(
    "A bad client id, year, month, by or id list (the library's message).",
    {"code": "invalid_month", "message": "month must be between 1 and 12, got 13"},
)
_SERVER: dict[Union[int, str], dict[str, Any]] = {
    500: _error_response(
        "The service is misconfigured, the stored data is incomplete, or an unexpected error.",
        {"code": "misconfigured", "message": "the service cannot read its tables"},
    ),
    502: _error_response(
        "DynamoDB could not be reached or failed.",
        {"code": "dynamodb_unavailable", "message": "DynamoDB could not be reached; try again"},
    ),
    503: {
        **_error_response(
            "DynamoDB throttled the lookup: retry after Retry-After seconds.",
            {"code": "throttled", "message": "DynamoDB throttled the lookup; retry in 1 s"},
        ),
        "headers": {
            "Retry-After": {
                "description": "Seconds to wait.",
                "required": True,
                "schema": {"type": "string", "pattern": "^[0-9]+$"},
            }
        },
    },
}
_NOT_MODIFIED: dict[Union[int, str], dict[str, Any]] = {
    304: {
        "description": "Not modified: the If-None-Match ETag still holds.",
        "headers": _CACHE_HEADERS,
    }
}


def _client_responses(not_found: bool = True) -> dict[Union[int, str], dict[str, Any]]:
    responses: dict[Union[int, str], dict[str, Any]] = {**_NOT_MODIFIED, 400: _BAD}
    if not_found:
        responses[404] = _error_response(
            "No client has this id.",
            {"code": "client_not_found", "message": "client 424242 not found"},
        )
    responses.update(_SERVER)
    return responses


_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def _clients_route(
    app: FastAPI, path: str, model: Any, *, not_found: bool = True
) -> Callable[[_Handler], _Handler]:
    """``app.get`` for a lookup: its answer's model and every error it can give."""
    return app.get(
        path, response_model=model, responses=_client_responses(not_found), tags=["clients"]
    )


# --- errors -------------------------------------------------------------------------


class _Failure(Exception):
    """An answer other than 200, raised inside a handler."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = dict(_NO_STORE)
    if status == 503:
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    line = " ".join(message.split())
    return JSONResponse(
        {"error": {"code": code, "message": line}}, status_code=status, headers=headers
    )


_PARAMETER_CODES = (
    ("ids", "invalid_ids"),
    ("id ", "invalid_clientid"),
    ("year", "invalid_year"),
    ("month", "invalid_month"),
)


def _bad_argument(exc: Exception) -> _Failure:
    message = str(exc)
    code = next((c for prefix, c in _PARAMETER_CODES if message.startswith(prefix)), None)
    return _Failure(400, code or "invalid_argument", message)


def _aws_failure(exc: ContabyxError, where: str) -> _Failure:
    """The answer for a library failure other than ClientNotFound; logged on one line."""
    if isinstance(exc, Throttled):
        status, code = 503, "throttled"
        message = f"DynamoDB throttled the lookup; retry in {RETRY_AFTER_SECONDS} s"
    elif isinstance(exc, ConnectionFailed):
        status, code = 502, "dynamodb_unavailable"
        message = "DynamoDB could not be reached or did not answer in time; try again"
    elif isinstance(exc, InconsistentClient):
        status, code = 500, "inconsistent_data"
        message = "this client's stored figures are incomplete until the next sync completes"
    elif isinstance(exc, (TableNotFound, AccessDenied, CredentialsError, ConfigurationError)):
        status, code = 500, "misconfigured"
        message = "the service cannot read its tables; its operators have been told"
    else:
        status, code = 502, "dynamodb_error"
        message = "DynamoDB failed to answer the lookup; try again"
    # The library's messages are one line and scrubbed of credentials.
    log.error("%s: %d %s: %s: %s", where, status, code, type(exc).__name__, exc)
    return _Failure(status, code, message)


def _validation_message(
    exc: RequestValidationError, library_says: Callable[[str, object], Optional[str]]
) -> tuple[str, str]:
    """The code and message of FastAPI's first refusal of a parameter: for a year or a
    month that is not an integer, the library's own message for it."""
    first = exc.errors()[0] if exc.errors() else {}
    loc = first.get("loc") or ()
    name = str(loc[-1]) if loc else "request"
    raw = first.get("input")
    code = {
        "clientid": "invalid_clientid",
        "year": "invalid_year",
        "month": "invalid_month",
        "by": "invalid_by",
        "ids": "invalid_ids",
    }.get(name, "invalid_argument")
    if first.get("type") == "missing":
        return code, f"{name} is required"
    if name == "by":
        return code, f"by must be one of 'total', 'year', 'month', got {raw!r:.40}"
    return code, library_says(name, raw) or f"{name} must be an int, got {raw!r:.40}"


class _Shield:
    """Outermost ASGI layer: an exception that escaped everything else becomes a 500
    JSON answer and one log line, never a traceback."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            log.error(
                "%s %s: 500 internal_error: %s",
                scope.get("method", "?"),
                scope.get("path", "?"),
                type(exc).__name__,
            )
            if not started and scope.get("type") == "http":
                response = _error(500, "internal_error", "an unexpected error occurred")
                await response(scope, receive, send)


# --- the application ----------------------------------------------------------------


def _id(text: str) -> Any:
    """A path or list id as int when it is an integer, else the text itself: the
    library checks both (before any request) and words the refusal."""
    return int(text) if _INTEGER.fullmatch(text.strip()) else text


# Parameters, as FastAPI reads and documents them.
ClientPath = Annotated[
    str,
    Path(
        description="The client id, decimal digits (0 to 2**63-1).",
        examples=["9007199254740993"],
        json_schema_extra={"pattern": _ID_PATTERN},
    ),
]


def _bounded(description: str, example: int, low: int, high: int) -> Any:
    """A query parameter documented with its range (checked by the library, not here,
    so that a bad value gets the library's message)."""
    schema = {"minimum": low, "maximum": high}
    return Query(description=description, examples=[example], json_schema_extra=schema)


YearQuery = Annotated[
    Optional[int],
    _bounded(f"A year ({MIN_YEAR} to {MAX_YEAR}); without it, all time.", 2024, MIN_YEAR, MAX_YEAR),
]
MonthQuery = Annotated[
    Optional[int], _bounded("A month (1 to 12) of the year; only with a year.", 6, 1, 12)
]
ByQuery = Annotated[
    Literal["total", "year", "month"],
    Query(description="total (default), or also each year, or each year and month."),
]
IfNoneMatch = Annotated[
    Optional[str],
    Header(description="An ETag from an earlier answer: 304 if it still holds."),
]


def create_app(api: contabyxAPI, settings: Optional[HttpSettings] = None) -> FastAPI:
    """The application, reading through ``api`` (one instance, shared by every request;
    it must be ``exact=True`` so that amounts are exact)."""
    settings = settings or HttpSettings()
    app = FastAPI(
        title="contabyx",
        version=__version__,
        summary="Per-client balance, income and expense, synced nightly from Redshift.",
        description=(
            "Read-only. Client ids are decimal strings (they go past 2**53, where "
            "JavaScript numbers stop being exact) and amounts are exact decimal strings "
            "with at least two decimals. Every 200 carries an ETag (SHA-256 of the body) "
            "and answers a matching If-None-Match with 304. Authentication is API "
            "Gateway's (IAM, SigV4), not this application's."
        ),
        docs_url=None,
        redoc_url=None,
        redirect_slashes=False,
    )

    def answer(request: Request, value: Any) -> Response:
        body = _body(value)
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        max_age = cache_seconds(datetime.now(timezone.utc), settings)
        headers = {"ETag": etag, "Cache-Control": f"private, max-age={max_age}"}
        wanted = request.headers.get("if-none-match")
        if wanted is not None:
            tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
            if "*" in tags or etag in tags:
                return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    def lookup(where: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except ClientNotFound as exc:
            raise _Failure(404, "client_not_found", f"client {exc.clientid} not found") from None
        except (TypeError, ValueError) as exc:
            raise _bad_argument(exc) from None
        except ContabyxError as exc:
            raise _aws_failure(exc, where) from None

    @app.exception_handler(_Failure)
    async def _failure(_: Request, exc: _Failure) -> Response:
        return _error(exc.status, exc.code, exc.message)

    def library_says(name: str, raw: object) -> Optional[str]:
        """The library's message for a year or month that is not an int (text): its
        checks refuse it before any request is made."""
        probes: dict[str, Callable[[], object]] = {
            "year": lambda: api.income(0, cast(Any, raw)),
            "month": lambda: api.income(0, 2000, cast(Any, raw)),
        }
        if name not in probes or not isinstance(raw, str):
            return None
        try:
            probes[name]()
        except (TypeError, ValueError) as refused:
            return str(refused)
        return None

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> Response:
        return _error(400, *_validation_message(exc, library_says))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return _error(exc.status_code, code, str(exc.detail))

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Response:
        """Liveness: answers without reading DynamoDB."""
        return Response(b'{"status":"ok"}', media_type="application/json", headers=_NO_STORE)

    @_clients_route(app, "/clients", Clients, not_found=False)
    def clients(
        request: Request,
        ids: Annotated[
            str,
            Query(
                description=f"Comma-separated client ids, at most {MAX_IDS}.",
                examples=["11052,1001,424242"],
                json_schema_extra={"pattern": _IDS_PATTERN},
            ),
        ],
        by: ByQuery = "total",
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """Many clients at once; unknown ids are listed apart, not an error."""
        parts = ids.split(",")
        if len(parts) > MAX_IDS:
            raise _Failure(400, "invalid_ids", f"ids lists {len(parts)} ids; at most {MAX_IDS}")
        wanted = [_id(p) for p in parts]
        found = lookup("GET /clients", lambda: api.clients(wanted, _BY[by]))
        unknown = [str(i) for i in dict.fromkeys(wanted) if i not in found]
        return answer(request, {"clients": [_level(c) for c in found.values()], "unknown": unknown})

    @_clients_route(app, "/clients/{clientid}", AnyClient)
    def client(
        request: Request,
        clientid: ClientPath,
        by: ByQuery = "total",
        if_none_match: IfNoneMatch = None,
    ) -> Response:
        """The client's totals; with ``by=year`` or ``by=month``, each year or month too."""
        cid = _id(clientid)
        return answer(
            request, _level(lookup("GET /clients/{clientid}", lambda: api.client(cid, _BY[by])))
        )

    @_clients_route(app, "/clients/{clientid}/balance", Balance)
    def balance(
        request: Request, clientid: ClientPath, if_none_match: IfNoneMatch = None
    ) -> Response:
        """The client's balance: income minus expense, over all time."""
        cid = _id(clientid)
        value = lookup("GET /clients/{clientid}/balance", lambda: api.balance(cid))
        return answer(request, {"clientid": str(cid), "balance": encode_amount(Decimal(value))})

    def figure(name: str) -> Callable[..., Response]:
        read = api.income if name == "income" else api.expense

        def handler(
            request: Request,
            clientid: ClientPath,
            year: YearQuery = None,
            month: MonthQuery = None,
            if_none_match: IfNoneMatch = None,
        ) -> Response:
            cid = _id(clientid)
            value = lookup(f"GET /clients/{{clientid}}/{name}", lambda: read(cid, year, month))
            return answer(
                request,
                {
                    "clientid": str(cid),
                    "year": year,
                    "month": month,
                    name: encode_amount(Decimal(value)),
                },
            )

        handler.__name__ = name
        handler.__doc__ = (
            f"The client's {name}: over all time, in a year, or in a month of a year "
            "(0.00 for a known client with nothing then)."
        )
        return handler

    for name, model in (("income", Income), ("expense", Expense)):
        _clients_route(app, f"/clients/{{clientid}}/{name}", model)(figure(name))

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(_Shield)
    return app


def _drop_null(schema: dict[str, Any]) -> None:
    """An optional parameter's schema without FastAPI's ``null`` branch: a parameter
    that is absent is left out, never sent as null."""
    branches = schema.get("anyOf")
    if isinstance(branches, list):
        kept = [b for b in branches if b.get("type") != "null"]
        if len(kept) == 1:
            del schema["anyOf"]
            schema.update(kept[0])


def _document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI 3.1 document, with its 422 answers (which this application
    never gives: bad parameters are 400) taken out."""
    described = ("title", "version", "openapi_version", "summary", "description")
    document = get_openapi(
        **{name: getattr(app, name) for name in described},
        routes=app.routes,
        tags=[
            {"name": "clients", "description": "A client's figures."},
            {"name": "service", "description": "The service itself."},
        ],
    )
    for path in document.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                _drop_null(parameter["schema"])
            operation.get("responses", {}).pop("422", None)
            ok = operation.get("responses", {}).get("200")
            if ok is not None and operation.get("tags") == ["clients"]:
                ok["headers"] = _CACHE_HEADERS
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    return document

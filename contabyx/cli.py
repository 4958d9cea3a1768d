"""The ``contabyx`` command: one lookup, printed as JSON on stdout.

Credentials come from the default AWS chain (environment, profile, role), never from
the command line.

    contabyx balance 42                       # 10.5
    contabyx income 42 --year 2019 --month 7  # 0.0
    contabyx expense 42 --year 2019
    contabyx client 42 --by month             # {"clientid": 42, ..., "years": {"2019": ...}}
    contabyx --exact balance 42               # 10.50: every digit stored, no float
    contabyx serve [--host 127.0.0.1] [--port 8080]   # the HTTP API (the http extra)

Timeouts: ``AWS_CONNECT_TIMEOUT`` and ``AWS_READ_TIMEOUT`` (seconds), as for the library.

Exit status: 0 on success; 2 with one line on stderr when the client does not exist,
and 2 with argparse's usage message for bad arguments; 1 with one line on stderr for
any other failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Optional

from contabyx.api import contabyxAPI
from contabyx.errors import ClientNotFound, ContabyxError
from contabyx.layout import CLIENTS_INFO_BY_YEAR_TABLE, CLIENTS_INFO_TABLE

PROG = "contabyx"
LOOPBACK = "127.0.0.1"
_BY = {"total": "total", "year": "by_year", "month": "by_month"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Per-client balance, income and expense, read from DynamoDB.",
    )
    parser.add_argument(
        "--region", dest="region_name", default=None, help="AWS region (default: the AWS chain)"
    )
    parser.add_argument(
        "--endpoint-url", default=None, help="DynamoDB endpoint (default: AWS_ENDPOINT_URL_*)"
    )
    parser.add_argument("--clients-info-table", default=CLIENTS_INFO_TABLE)
    parser.add_argument("--clients-info-by-year-table", default=CLIENTS_INFO_BY_YEAR_TABLE)
    parser.add_argument("--consistent-read", action="store_true", help="strongly consistent reads")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log each retry on stderr (INFO)"
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="print amounts exactly as stored (floats lose cents past 2**46 = 7.0e13)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    balance = commands.add_parser("balance", help="the client's balance")
    balance.add_argument("id", type=int, metavar="ID")
    for name in ("income", "expense"):
        sub = commands.add_parser(name, help=f"the client's {name}, optionally in a year or month")
        sub.add_argument("id", type=int, metavar="ID")
        sub.add_argument("--year", type=int, default=None, metavar="Y")
        sub.add_argument("--month", type=int, default=None, metavar="M", help="needs --year")
    client = commands.add_parser("client", help="every figure of the client")
    client.add_argument("id", type=int, metavar="ID")
    client.add_argument("--by", choices=tuple(_BY), default="total")
    serve = commands.add_parser(
        "serve",
        help="the HTTP API on this machine (needs the http extra)",
        description="Serve the HTTP API (JSON, read-only) until interrupted; amounts are "
        "always exact decimal strings. It has no authentication of its own: keep it on "
        "loopback.",
    )
    serve.add_argument("--host", default=LOOPBACK, help=f"address to listen on ({LOOPBACK})")
    serve.add_argument("--port", type=int, default=8080, help="port (8080)")
    serve.add_argument("--access-log", action="store_true", help="log every request on stderr")
    return parser


def _lookup(api: contabyxAPI, args: argparse.Namespace) -> Any:
    if args.command == "balance":
        return api.balance(args.id)
    if args.command == "income":
        return api.income(args.id, args.year, args.month)
    if args.command == "expense":
        return api.expense(args.id, args.year, args.month)
    return api.client(args.id, _BY[args.by])


def _log_retries() -> None:
    """The library's INFO lines (its retries) on stderr; botocore's own stay quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    library = logging.getLogger("contabyx")
    library.addHandler(handler)
    library.setLevel(logging.INFO)


def to_json(value: Any) -> str:
    """JSON text of a lookup; a ``Decimal`` is written as the number it is, digit for digit.

    >>> to_json({"clientid": 7, "years": {2019: {"income": Decimal("70368744177664.01")}}})
    '{"clientid": 7, "years": {"2019": {"income": 70368744177664.01}}}'
    """
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        pairs = (f"{json.dumps(str(k))}: {to_json(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    return json.dumps(value)


def _serve(args: argparse.Namespace) -> int:
    """``contabyx serve``: one process, one library instance (exact amounts) shared by
    every request; 1 with one line on stderr when it cannot start."""
    try:
        import uvicorn

        from contabyx.http_api import HttpSettings, create_app
    except ImportError as exc:
        print(
            f"{PROG}: serve needs the http extra ({exc.name} is missing): "
            "pip install 'contabyx[http]'",
            file=sys.stderr,
        )
        return 1
    if not 0 < args.port < 65536:
        print(f"{PROG}: --port must be between 1 and 65535, got {args.port}", file=sys.stderr)
        return 2
    try:
        api = _api(args, exact=True)
        app = create_app(api, HttpSettings.from_env())
    except (TypeError, ValueError, ContabyxError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    # One line per failed request (the 5xx), on stderr beside uvicorn's own lines.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    http_log = logging.getLogger("contabyx.http")
    http_log.addHandler(handler)
    http_log.propagate = False
    if args.host not in (LOOPBACK, "localhost", "::1"):
        print(
            f"{PROG}: listening on {args.host}, beyond this machine, with no authentication",
            file=sys.stderr,
        )
    with api:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            access_log=args.access_log,
            log_level="info",
            server_header=False,
        )
    return 0


#: The options of ``contabyxAPI`` the command line sets, under their own names.
_API_OPTIONS = (
    "region_name",
    "endpoint_url",
    "clients_info_table",
    "clients_info_by_year_table",
    "consistent_read",
)


def _api(args: argparse.Namespace, *, exact: bool) -> contabyxAPI:
    return contabyxAPI(**{name: getattr(args, name) for name in _API_OPTIONS}, exact=exact)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Example::

        main(["balance", "42"])      # prints 10.5, returns 0
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "month", None) is not None and args.year is None:
        parser.error(f"{args.command}: --month needs --year")
    if args.verbose:
        _log_retries()
    if args.command == "serve":
        return _serve(args)
    try:
        api = _api(args, exact=args.exact)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    except ContabyxError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    try:
        with api:
            result = _lookup(api, args)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    except ClientNotFound as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except ContabyxError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    print(to_json(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

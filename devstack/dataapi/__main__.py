"""Run the Data API emulator until SIGTERM or SIGINT.

Example::

    python -m devstack.dataapi --host 127.0.0.1 --port 8890 \\
        --conninfo "host=/path/to/socketdir port=5432 user=postgres dbname=dev" --page-size 1000

The shape of CSV pages and the active-statement quota default to the environment
(``CONTABYX_LOCAL_CSV_HEADER``, ``CONTABYX_LOCAL_CSV_NULL``,
``CONTABYX_LOCAL_MAX_ACTIVE_STATEMENTS``), so ``contabyx-local up`` run with them set
starts an emulator that sends that shape.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Optional

from . import DataApiServer
from .statements import MAX_ACTIVE_STATEMENTS
from .values import CSV_HEADERS, CSV_NULLS

CSV_HEADER_ENV = "CONTABYX_LOCAL_CSV_HEADER"
CSV_NULL_ENV = "CONTABYX_LOCAL_CSV_NULL"
MAX_ACTIVE_ENV = "CONTABYX_LOCAL_MAX_ACTIVE_STATEMENTS"

_log = logging.getLogger("devstack.dataapi")


def _parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.dataapi",
        description="Local Redshift Data API emulator on PostgreSQL (development only).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, required=True, help="TCP port (0: any free)")
    parser.add_argument("--conninfo", required=True, help="libpq conninfo of the PostgreSQL server")
    parser.add_argument("--page-size", type=int, default=1000, help="rows per result page")
    parser.add_argument("--workers", type=int, default=8, help="statements run at once")
    parser.add_argument(
        "--csv-header",
        choices=CSV_HEADERS,
        default=os.environ.get(CSV_HEADER_ENV) or "first",
        help=f"which CSV pages start with a header line (${CSV_HEADER_ENV})",
    )
    parser.add_argument(
        "--csv-null",
        choices=CSV_NULLS,
        default=os.environ.get(CSV_NULL_ENV) or "empty",
        help=f'NULL in CSV pages: an empty field or "" (${CSV_NULL_ENV})',
    )
    parser.add_argument(
        "--max-active-statements",
        type=int,
        default=int(os.environ.get(MAX_ACTIVE_ENV) or MAX_ACTIVE_STATEMENTS),
        help=f"statements running at once per cluster, as AWS's quota (${MAX_ACTIVE_ENV})",
    )
    parser.add_argument("--log-level", default="WARNING", help="logging level")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point: serve until a termination signal, then exit 0."""
    args = _parse(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()

    def _on_signal(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        server = DataApiServer(
            args.conninfo,
            host=args.host,
            port=args.port,
            page_size=args.page_size,
            workers=args.workers,
            max_active_statements=args.max_active_statements,
            csv_header=args.csv_header,
            csv_null=args.csv_null,
        )
    except (OSError, ValueError) as exc:
        print(f"dataapi: cannot start: {exc}", file=sys.stderr)
        return 2
    with server:
        _log.info("Redshift Data API emulator on %s", server.endpoint_url)
        # wait() with a timeout keeps the main thread responsive to signals.
        while not stop.wait(1.0):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())

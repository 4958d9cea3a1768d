"""Run the Data API emulator until SIGTERM or SIGINT.

Example::

    python -m devstack.dataapi --host 127.0.0.1 --port 8890 \\
        --conninfo "host=/path/to/socketdir port=5432 user=postgres dbname=dev" --page-size 1000
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Optional

from . import DataApiServer

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

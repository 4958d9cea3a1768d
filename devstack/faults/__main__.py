"""``python -m devstack.faults``: run a fault proxy until interrupted; print the counts.

Example::

    python -m devstack.faults --upstream http://127.0.0.1:8000 --throttle 0.3 \\
        --partial 0.3 --drop 0.02 --port 8001

It prints ``fault proxy on http://127.0.0.1:PORT -> UPSTREAM (Ctrl-C stops)``, serves
until SIGINT or SIGTERM, then prints :attr:`FaultProxy.counts` as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Optional

from .proxy import FaultProxy
from .rules import Faults, Rule

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.faults",
        description="Fault-injecting proxy for AWS JSON protocols, on 127.0.0.1.",
    )
    parser.add_argument("--upstream", required=True, help="http://127.0.0.1:PORT to forward to")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--throttle", type=float, default=0.0, help="throughput exceeded")
    parser.add_argument("--throttling", type=float, default=0.0, help="ThrottlingException")
    parser.add_argument("--server-error", type=float, default=0.0, help="HTTP 500")
    parser.add_argument("--drop", type=float, default=0.0, help="close without answering")
    parser.add_argument("--drop-after-forward", type=float, default=0.0, help="forward, then close")
    parser.add_argument("--partial", type=float, default=0.0, help="partial BatchWriteItem")
    parser.add_argument(
        "--statement-status",
        choices=("FAILED", "ABORTED", "STARTED"),
        help="rewrite every DescribeStatement answer to this status",
    )
    parser.add_argument(
        "--expired-token", action="store_true", help="refuse every GetStatementResult NextToken"
    )
    return parser


def _proxy(args: argparse.Namespace) -> FaultProxy:
    """The proxy the arguments describe (ValueError or OSError if they cannot be met)."""
    faults = Faults(
        throttle=args.throttle,
        throttling=args.throttling,
        server_error=args.server_error,
        drop=args.drop,
        drop_after_forward=args.drop_after_forward,
        partial_batch=args.partial,
        seed=args.seed,
    )
    rules = []
    if args.statement_status:
        rules.append(Rule.statement_status(args.statement_status))
    if args.expired_token:
        rules.append(Rule.expired_token())
    return FaultProxy(args.upstream, faults, rules, port=args.port)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run a proxy until interrupted; print the counts; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        proxy = _proxy(args)
    except (ValueError, OSError) as exc:
        parser.error(str(exc))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with proxy:
        print(f"fault proxy on {proxy.url} -> {proxy.upstream} (Ctrl-C stops)", flush=True)
        try:
            while not stop.wait(1.0):
                pass
        except KeyboardInterrupt:
            pass
    print(json.dumps(proxy.counts), file=sys.stdout, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

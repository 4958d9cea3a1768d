"""``contabyx-local``: run the local stack (no AWS account needed).

Usage::

    contabyx-local up [--state-dir DIR] [--page-size N] [--env-file PATH]
    contabyx-local status [--state-dir DIR]
    contabyx-local env [--state-dir DIR]
    contabyx-local seed --clients N [--seed S] [--years 2015-2026] [--state-dir DIR]
    contabyx-local down [--state-dir DIR]

``up`` and ``env`` print the environment as dotenv lines on stdout (progress
goes to stderr), so ``contabyx-local up > local.env`` works too. ``status``
exits with 3 when the stack is not (fully) running.

From a source checkout, ``python -m devstack ...`` is the same command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import List, Optional, Sequence

from devstack import seed as seeding
from devstack.stack import Stack, StackError, dotenv_lines, write_env_file


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="state directory (default $CONTABYX_LOCAL_DIR or .devstack/ at the repository root)",
    )
    parser = argparse.ArgumentParser(
        prog="contabyx-local",
        description="Local stack: DynamoDB Local, PostgreSQL as the warehouse, "
        "a Redshift Data API emulator and a Redshift wire endpoint, all on 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", parents=[common], help="start the stack (idempotent), print its env")
    up.add_argument(
        "--page-size",
        type=int,
        default=None,
        help="Data API page size (default $CONTABYX_LOCAL_PAGE_SIZE or 1000)",
    )
    up.add_argument("--env-file", type=Path, default=None, help="also write the env lines here")
    sub.add_parser("down", parents=[common], help="stop the servers this stack started")
    sub.add_parser("status", parents=[common], help="what runs where")
    sub.add_parser("env", parents=[common], help="print the env lines of the running stack")
    seed = sub.add_parser(
        "seed", parents=[common], help="replace the warehouse's source rows with synthetic ones"
    )
    seeding.add_arguments(seed)
    return parser


def _format_status(stack: Stack) -> str:
    rows: List[List[str]] = [["SERVICE", "PID", "ADDRESS", "STATE", "LOG"]]
    for line in stack.status():
        rows.append(
            [
                line.name,
                str(line.pid) if line.pid else "-",
                line.address,
                "up" if line.alive else "down",
                line.log,
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    out = [f"state directory: {stack.state_dir}"]
    for row in rows:
        out.append("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[-1])
    return "\n".join(out)


#: DynamoDB Local runs in memory: what a restart costs, and what brings it back.
DYNAMODB_RESTARTED = (
    "DynamoDB Local keeps its tables in memory, so they are gone: create them again "
    "(contabyx-etl create-tables) and run a full sync"
)


def _up_report(stack: Stack) -> List[str]:
    """What ``up`` did: started the stack, restarted some servers (and why), or nothing.

    >>> stack = Stack(Path("/tmp/x"))
    >>> stack.restarted = [("dynamodb", "it had stopped")]
    >>> _up_report(stack)[0].startswith("restarted dynamodb (it had stopped); DynamoDB Local")
    True
    """
    if stack.started_now:
        return ["started"]
    if not stack.restarted:
        return ["already running"]
    return [
        f"restarted {name} ({reason})" + (f"; {DYNAMODB_RESTARTED}" if name == "dynamodb" else "")
        for name, reason in stack.restarted
    ]


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``contabyx-local``; returns the exit status."""
    args = _parser().parse_args(argv)
    stack = Stack(args.state_dir)
    try:
        if args.command == "up":
            print(f"contabyx-local: starting the local stack in {stack.state_dir}", file=sys.stderr)
            env = stack.up(page_size=args.page_size)
            for line in _up_report(stack):
                print(f"contabyx-local: {line}", file=sys.stderr)
            if args.env_file is not None:
                write_env_file(args.env_file, env)
            sys.stdout.write(dotenv_lines(env))
        elif args.command == "down":
            stack.down()
            print(f"contabyx-local: stopped the stack in {stack.state_dir}", file=sys.stderr)
        elif args.command == "status":
            print(_format_status(stack))
            return 0 if stack.is_running() else 3
        elif args.command == "env":
            sys.stdout.write(dotenv_lines(stack.env()))
        elif args.command == "seed":
            summary = seeding.seed(
                stack.warehouse_conninfo(), clients=args.clients, seed=args.seed, years=args.years
            )
            print(seeding.describe(summary))
    except (StackError, OSError, RuntimeError, ValueError) as exc:
        print(f"contabyx-local: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

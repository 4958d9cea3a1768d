"""``contabyx-etl``: create the tables and the views, run the sync.

    contabyx-etl create-tables
    contabyx-etl create-views [--spectrum-schema ext_contabyx]
    contabyx-etl run [--table clients_info|clients_info_by_year|all] [--entries N]
                     [--workers K] [--max-write-units N] [--source data-api|direct] [--json]
                     [--incremental | --full] [--prune] [--allow-mass-delete]
    contabyx-etl verify [--table ...] [--sample N] [--max-read-units U] [--json]
    contabyx-etl status [--json] [--max-age 26h] [--last N]

``run`` takes the sync's lease first (one run at a time, on any machine: a second
run is refused with exit 1, naming the run that holds it) and records the run in
``SYNC_TABLE``, however it ends. ``status`` prints the last runs, one line each,
latest first, and exits:

- 0: the last run that ended succeeded (or stored every client but some rejected
  ones) and the last success is within ``--max-age`` (default 26h);
- 1: the last run that ended failed, or a run died without ending (its record says
  running, its lease is gone);
- 2: no success is recorded, or the last one is older than ``--max-age`` (a usage
  error also exits 2).

A run still in progress is shown as such and judged by the runs before it.

Exit status of the other commands:

- 0: every client was written (source rows the views reject are counted in the
  summary line, by reason);
- 1: the run failed; one line on stderr says what will fix it, no traceback;
- 2: a usage error (bad or conflicting arguments, before anything runs);
- 3: the run completed, but some clients could not be stored (an item over
  DynamoDB's 400 KB limit, a figure a DynamoDB Number cannot hold): the summary
  line names each by clientid with the reason; every other client was written.
  A re-run will not fix them: the source data of those clients must change.

``verify`` exits 0 when DynamoDB holds exactly the latest snapshot's items, 1 when
it found a difference (each printed) or failed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any, Optional

from botocore.exceptions import (
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
)

from dynamo.config import SOURCES, check_log_level, configured_log_level
from dynamo.errors import SyncError
from dynamo.load import ACCESS_CODES, AUTH_CODES, advice
from dynamo.query import Insert
from dynamo.sync import KINDS, Progress, SyncResult
from dynamo.verify import MAX_READ_UNITS

#: Exit status of a run that completed but could not store some clients.
EXIT_REJECTED = 3
#: At most this many rejected clients are named in the summary line (all in --json).
_NAMED_REJECTS = 10

log = logging.getLogger("dynamo")

TABLE_CHOICES = ("clients_info", "clients_info_by_year", "all")
#: ``status``: a nightly sync's last success is at most this old (a day and some slack).
DEFAULT_MAX_AGE = "26h"
#: ``status`` exit codes: the last run failed; no recent success.
EXIT_LAST_FAILED = 1
EXIT_STALE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="contabyx-etl",
        description="Sync per-client figures from the Redshift views into DynamoDB.",
    )
    parser.add_argument(
        "--log-level",
        default=None,
        help="stderr log level (INFO logs the clientids of every batch); "
        "default LOG_LEVEL from config/.env or the environment, else WARNING",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("create-tables", help="create both DynamoDB tables (idempotent)")
    views = sub.add_parser("create-views", help="create or replace the warehouse views")
    views.add_argument("--spectrum-schema", help="also read S.transactions (Redshift Spectrum)")
    views.add_argument(
        "--no-late-binding",
        action="store_true",
        help="leave out WITH NO SCHEMA BINDING (only for a PostgreSQL stand-in)",
    )
    run = sub.add_parser("run", help="run the sync")
    run.add_argument("--table", choices=TABLE_CHOICES, default="all")
    run.add_argument("--entries", type=_non_negative, default=0, help="lowest N clients; 0: all")
    run.add_argument("--workers", type=_positive, help="parallel DynamoDB writers")
    run.add_argument(
        "--max-write-units",
        type=_non_negative,
        help="write units per second to send, over any 5 seconds; 0: no cap "
        "(default MAX_WRITE_UNITS)",
    )
    run.add_argument("--source", choices=SOURCES, help="where to read the views")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument(
        "--prune",
        action="store_true",
        help="after a complete, successful run, delete items of clients no longer in the source",
    )
    mode = run.add_mutually_exclusive_group()
    mode.add_argument(
        "--incremental",
        action="store_true",
        help="write only the clients whose figures changed since the last complete run, "
        "and delete those left with none",
    )
    mode.add_argument(
        "--full",
        action="store_true",
        help="write every client and reset what the next --incremental compares with "
        "(the default; after a table restore or a hand edit)",
    )
    run.add_argument(
        "--allow-mass-delete",
        action="store_true",
        help="let --prune or --incremental delete even when the source has no clients or "
        "more than PRUNE_MAX_SHARE of the clients are gone (refused otherwise)",
    )
    verify = sub.add_parser(
        "verify", help="compare DynamoDB with the latest snapshot; exit 1 on any difference"
    )
    verify.add_argument("--table", choices=TABLE_CHOICES, default="all")
    verify.add_argument(
        "--sample", type=_positive, help="N clients of the snapshot picked at random; default all"
    )
    verify.add_argument(
        "--max-read-units",
        type=_positive_units,
        default=MAX_READ_UNITS,
        help=f"DynamoDB read units a second at most (default {MAX_READ_UNITS:g})",
    )
    verify.add_argument("--source", choices=SOURCES, help="where to read the snapshot")
    verify.add_argument("--json", action="store_true", help="print every difference as JSON")
    status = sub.add_parser("status", help="the last runs; exit 1 if the last failed, 2 if stale")
    status.add_argument("--json", action="store_true", help="print the runs as JSON")
    status.add_argument(
        "--max-age",
        type=_duration,
        default=_duration(DEFAULT_MAX_AGE),
        help=f"the last success must be newer than this (26h, 90m, 2d); default {DEFAULT_MAX_AGE}",
    )
    status.add_argument("--last", type=_positive, default=10, help="how many runs to show")
    return parser


def _positive_units(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("must be a number more than 0")
    return value


def _duration(text: str) -> float:
    from dynamo.runs import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


class _Progress(Progress):
    """A tqdm bar on a terminal, nothing elsewhere (cron logs stay readable)."""

    def __init__(self, name: str, enabled: bool) -> None:
        self._bar: Any = None
        self._rows = 0
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(desc=name, unit=" items", dynamic_ncols=True, file=sys.stderr)

    def planned(self, clients: int) -> None:
        if self._bar is not None:
            self._bar.total = clients
            self._bar.refresh()

    def rows(self, n: int) -> None:
        self._rows += n
        if self._bar is not None:
            self._bar.set_postfix(rows_read=self._rows, refresh=False)

    def written(self, _table: str, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _run(args: argparse.Namespace) -> dict[str, Any]:
    overrides = {
        name: value
        for name, value in (
            ("workers", args.workers),
            ("source", args.source),
            ("max_write_units", args.max_write_units),
        )
        if value is not None
    }
    names = list(KINDS) if args.table == "all" else [args.table]
    started = time.monotonic()
    summary: dict[str, Any] = {"tables": {}, "entries": args.entries}
    mode = "incremental" if args.incremental else "full"
    with Insert(**overrides) as insert, insert.exclusive(mode) as record:
        results = []
        for name in names:
            insert.check_lease()
            results.append(_sync_one(insert, name, args))
        summary["tables"] = {result.table: result.summary() for result in results}
        summary["rejected_rows"] = insert.source_rejects()
        # Only now, every table synced without error, is the set of clients known.
        if args.prune:
            pruned = insert.prune_all(results, allow_mass_delete=args.allow_mass_delete)
            for table, deleted in pruned.items():
                summary["tables"][table]["pruned"] = deleted
        summary["run"] = insert.run
        record.counts(summary["tables"])
        if _rejected(summary):
            record.outcome = "rejected"
    summary["seconds"] = round(time.monotonic() - started, 3)
    summary["retries"] = sum(t["retries"] for t in summary["tables"].values())
    return summary


def _sync_one(insert: Insert, name: str, args: argparse.Namespace) -> SyncResult:
    progress = _Progress(name, enabled=sys.stderr.isatty() and not args.json)
    method = insert.clients_info if name == "clients_info" else insert.clients_info_by_month
    try:
        return method(
            args.entries,
            progress=progress,
            incremental=args.incremental,
            allow_mass_delete=args.allow_mass_delete,
        )
    finally:
        progress.close()


def _summary_line(summary: dict[str, Any]) -> str:
    """One line for cron mail: items and write units per table, then what was left out and why."""
    parts = []
    for name, t in summary["tables"].items():
        part = f"{name}: {t['items']} items"
        part += f", {t['unchanged']} unchanged" if t.get("mode") == "incremental" else ""
        part += f", {t['deleted']} deleted" if t.get("deleted") else ""
        part += f", {t['write_units']} WCU"
        part += f", {len(t['rejected'])} rejected" if t.get("rejected") else ""
        part += f", {t['pruned']} pruned" if "pruned" in t else ""
        parts.append(part)
    line = f"synced {', '.join(parts)} in {summary['seconds']:.1f} s, {summary['retries']} retries"
    rows = {reason: n for reason, n in summary.get("rejected_rows", {}).items() if n}
    if rows:
        line += "; rejected source rows: " + ", ".join(f"{r} {n}" for r, n in rows.items())
    clients = [
        f"{r['clientid']} ({name}: {_reason(r)})"
        for name, t in summary["tables"].items()
        for r in t.get("rejected", [])
    ]
    if clients:
        more = len(clients) - _NAMED_REJECTS
        line += "; rejected clients: " + ", ".join(clients[:_NAMED_REJECTS])
        line += f" and {more} more (see --json)" if more > 0 else ""
    return line


def _reason(rejected: dict[str, Any]) -> str:
    # Shaping reasons start with "client N: ", already said by the clientid in front.
    return str(rejected["reason"]).removeprefix(f"client {rejected['clientid']}: ")


def _rejected(summary: dict[str, Any]) -> bool:
    return any(t.get("rejected") for t in summary["tables"].values())


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        text = f"{err.get('Code', 'AWS error')}: {err.get('Message', '')}"
        if err.get("Code") in AUTH_CODES | ACCESS_CODES:
            text += f"; {advice(exc)}"
    elif isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        text = f"{exc}; {advice(exc)}"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _create_tables(_args: argparse.Namespace) -> int:
    from dynamo.aws import dynamodb_client
    from dynamo.tables import create_tables

    settings = Insert().settings
    client = dynamodb_client(
        region=settings.aws_region,
        endpoint_url=settings.aws_endpoint_url_dynamodb,
        retries=True,
        connect_timeout=settings.aws_connect_timeout,
        read_timeout=settings.aws_read_timeout,
    )
    names = create_tables(
        client,
        settings.clients_info_table,
        settings.clients_info_by_year_table,
        sync_table=settings.sync_table,
    )
    print(f"tables ready: {', '.join(names)}")
    return 0


def _create_views(args: argparse.Namespace) -> int:
    from dynamo.views import create_views

    with Insert() as insert:
        statements = create_views(
            insert.source,
            spectrum_schema=args.spectrum_schema,
            views_schema=insert.settings.views_schema,
            late_binding=not args.no_late_binding,
            sync_schema=insert.settings.sync_schema,
        )
    print(f"views ready: {len(statements)} statements run")
    return 0


def _sync(args: argparse.Namespace) -> int:
    summary = _run(args)
    print(json.dumps(summary, sort_keys=True) if args.json else _summary_line(summary))
    return EXIT_REJECTED if _rejected(summary) else 0


#: At most this many differences are printed one a line (all in --json).
_SHOWN_DIFFERENCES = 20


def _verify(args: argparse.Namespace) -> int:
    from dynamo.verify import ReadPacer, verify_table

    names = list(KINDS) if args.table == "all" else [args.table]
    overrides = {"source": args.source} if args.source else {}
    pacer = ReadPacer(args.max_read_units)
    with Insert(**overrides) as insert:
        reports = [
            verify_table(
                KINDS[name],
                insert.settings,
                source=insert.source,
                client=insert.client,
                sample=args.sample,
                pacer=pacer,
            )
            for name in names
        ]
    differences = [d for report in reports for d in report.differences]
    if args.json:
        summary = {
            "tables": {report.table: report.summary() for report in reports},
            "differences": [d.as_dict() for d in differences],
        }
        print(json.dumps(summary, sort_keys=True))
    else:
        for difference in differences[:_SHOWN_DIFFERENCES]:
            print(difference.line())
        more = len(differences) - _SHOWN_DIFFERENCES
        if more > 0:
            print(f"and {more} more (see --json)")
        print(_verify_line(reports))
    return 1 if differences else 0


def _verify_line(reports: Sequence[Any]) -> str:
    parts = []
    for report in reports:
        checked = f"{report.clients} clients" + (" sampled" if report.sample else "")
        found = ", ".join(f"{report.count(kind)} {kind}" for kind in ("missing", "extra", "wrong"))
        found += f", {report.unstorable} not storable" if report.unstorable else ""
        parts.append(f"{report.table}: {checked}, {found}")
    total = sum(len(report.differences) for report in reports)
    verdict = f"{total or 'no'} difference{'' if total == 1 else 's'}"
    return f"verified {'; '.join(parts)}: {verdict}"


def _status(args: argparse.Namespace) -> int:
    from dynamo import runs

    insert = Insert()
    client, table = insert.runs_client, insert.settings.sync_table
    holder = runs.current_holder(client, table)
    records = runs.latest_runs(client, table, args.last)
    for record in records:
        if record["status"] == runs.RUNNING and record["run"] != holder:
            record["status"] = "abandoned"  # its lease is gone: killed, or lost its machine
    ended = [r for r in records if r["status"] != runs.RUNNING]
    last = ended[0] if ended else None
    success = runs.last_success(client, table)
    now = time.time()
    if last is not None and last["status"] in (runs.FAILED, "abandoned"):
        code = EXIT_LAST_FAILED
    elif success is None or now - (success["ended"] or success["started"]) > args.max_age:
        code = EXIT_STALE
    else:
        code = 0
    if args.json:
        out = {"runs": records, "last_success": success, "max_age": args.max_age, "exit": code}
        print(json.dumps(out, sort_keys=True))
    else:
        for record in records:
            print(_status_line(record, now))
        if not records:
            print("no run recorded")
        if code == EXIT_STALE:
            when = "none recorded" if success is None else f"the last was {success['run']}"
            print(f"no success within {args.max_age:.0f} s ({when})")
    return code


def _status_line(record: dict[str, Any], now: float) -> str:
    end = record["ended"] if record["ended"] is not None else now
    took = f"{end - record['started']:.1f} s" + ("" if record["ended"] is not None else " so far")
    tables = ", ".join(f"{name} {t.get('items', 0)}" for name, t in record["tables"].items())
    line = f"{record['run']} {record['mode']} {record['status']} {took}"
    line += f" {tables}" if tables else ""
    return line + (f" error: {record['error']}" if record["error"] else "")


COMMANDS = {
    "create-tables": _create_tables,
    "create-views": _create_views,
    "run": _sync,
    "verify": _verify,
    "status": _status,
}


def _check_run_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command != "run":
        return
    if args.prune and args.entries:
        parser.error("--prune needs a complete run: it cannot go with --entries")
    if args.incremental and (args.entries or args.prune):
        parser.error(
            "--incremental compares every client and deletes the gone ones itself: "
            "it cannot go with --entries or --prune"
        )
    if args.allow_mass_delete and not (args.prune or args.incremental):
        parser.error("--allow-mass-delete only confirms --prune or --incremental")


def _setup_logging(level: Optional[str]) -> None:
    level = check_log_level(level) if level else configured_log_level()
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _check_run_arguments(parser, args)
    try:
        _setup_logging(args.log_level)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("contabyx-etl: interrupted", file=sys.stderr)
        return 130
    except SyncError as exc:  # one line, no traceback: cron mails stay short
        log.debug("failure", exc_info=True)
        print(f"contabyx-etl: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # no step translated it: still one line, marked as unexpected
        log.debug("unexpected failure", exc_info=True)
        print(
            f"contabyx-etl: error: {_one_line(exc)} (unexpected {type(exc).__name__}:"
            " --log-level DEBUG shows where it came from)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

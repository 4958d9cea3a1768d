"""``make demo``: the whole product on this machine, no AWS account.

Brings the local stack up, seeds 1,000 clients, creates the tables and the views,
runs the full sync with the production CLI, then looks clients up through
``contabyxAPI`` and over HTTP (``contabyx serve``, left running on 127.0.0.1:8080;
``make down`` stops it). Only the endpoints differ from production. Safe to run again.

    python scripts/demo.py               # the demo
    python scripts/demo.py --stop-serve  # stop the demo's contabyx serve (make down)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST, PORT = "127.0.0.1", 8080


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def etl(*args: str) -> None:
    command = [str(BIN / "contabyx-etl"), *args]
    print("$ contabyx-etl " + " ".join(args), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)  # noqa: S603 - our own CLI, fixed arguments


def show_by_month(client: dict[str, Any]) -> None:
    print(
        f"client {client['clientid']}: balance {client['balance']:,.2f}  "
        f"income {client['income']:,.2f}  expense {client['expense']:,.2f}"
    )
    print(f"  {'year':<6}{'month':>6}{'income':>16}{'expense':>16}{'balance':>16}")
    for year, figures in sorted(client["years"].items()):
        print(
            f"  {year:<6}{'all':>6}{figures['income']:>16,.2f}"
            f"{figures['expense']:>16,.2f}{figures['balance']:>16,.2f}"
        )
        for month, m in sorted(figures["months"].items()):
            print(
                f"  {'':<6}{month:>6}{m['income']:>16,.2f}"
                f"{m['expense']:>16,.2f}{m['balance']:>16,.2f}"
            )


def main() -> int:
    from devstack.seed import seed
    from devstack.stack import Stack, write_env_file

    step("local stack: DynamoDB Local, PostgreSQL as the warehouse, the Data API emulator")
    stack = Stack()
    env = stack.up()
    os.environ.update(env)
    env_file = stack.state_dir / "demo.env"
    write_env_file(env_file, env)
    for key in ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_REDSHIFT_DATA"):
        print(f"{key}={env[key]}")
    print(f"(every variable in {env_file})")

    step("seed the warehouse: 1,000 clients of synthetic transactions")
    summary = seed(stack.warehouse_conninfo(), clients=1000, seed=42)
    print(summary)

    step("create the DynamoDB tables and the warehouse views")
    etl("create-tables")
    etl("create-views")

    step("run the sync")
    etl("run")

    step("look clients up through contabyxAPI")
    from contabyx import contabyxAPI
    from dynamo.config import load_settings
    from dynamo.extract import open_source

    settings = load_settings(environ=env, env_file=Path(os.devnull))
    rows = list(
        open_source(settings).rows(
            "SELECT clientid FROM contabyx.clients_info"
            " WHERE income_count > 0 AND expense_count > 0 AND balance > 0"
            " ORDER BY income_count + expense_count DESC, clientid"
        )
    )
    clientid = int(rows[0][0])
    api = contabyxAPI()
    info = api.client(clientid, "by_month")
    year = max(info["years"])
    print(f">>> api.balance({clientid})\n{api.balance(clientid)}")
    print(f">>> api.income({clientid}, year={year})\n{api.income(clientid, year=year)}")
    print(f'>>> api.client({clientid}, "by_month")')
    show_by_month(info)

    step("the same lookups over HTTP: contabyx serve")
    port = serve(stack.state_dir)
    base = f"http://{HOST}:{port}"
    for path in (
        "/health",
        f"/clients/{clientid}",
        f"/clients/{clientid}/balance",
        f"/clients/{clientid}/income?year={year}",
        f"/clients/{clientid}/expense?year={year}&month={min(info['years'][year]['months'])}",
        f"/clients?ids={clientid},{clientid + 1},999999999",
        f"/clients/{clientid}?by=month",
    ):
        body = curl(base + path)
    same = _figures(json.loads(body)) == _figures(cli_client(clientid))
    print(f"same figures as `contabyx client {clientid} --by month`: {'yes' if same else 'NO'}")
    print(f"\ncontabyx serve stays up on {base} (OpenAPI: {base}/openapi.json).")
    print("Done. `make test` runs the suite; `make down` stops the stack and the server.")
    return 0 if same else 1


def serve(state_dir: Path) -> int:
    """Start ``contabyx serve`` in the background (once: a previous one is stopped)."""
    stop_serve(state_dir)
    port = PORT if _free(PORT) else _any_free_port()
    if port != PORT:
        print(f"(port {PORT} is taken: serving on {port})")
    log = (state_dir / "serve.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
        [str(BIN / "contabyx"), "serve", "--host", HOST, "--port", str(port)],
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    (state_dir / "serve.pid").write_text(str(process.pid))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if not _free(port):
            return port
        time.sleep(0.2)
    raise SystemExit(f"contabyx serve did not start; see {state_dir / 'serve.log'}")


def stop_serve(state_dir: Path) -> None:
    """Stop the ``contabyx serve`` a previous demo left running, if any."""
    pid_file = state_dir / "serve.pid"
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    pid_file.unlink(missing_ok=True)
    if pid is None or "serve" not in _command_line(pid):
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if not _command_line(pid):
            return
        time.sleep(0.1)


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) != 0


def _any_free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def curl(url: str) -> str:
    """GET ``url`` as the reader would with curl, and show the command and the body."""
    print(f"$ curl -s '{url}'", flush=True)
    found = shutil.which("curl")
    if found:
        body = subprocess.run(  # noqa: S603 - fixed arguments
            [found, "-s", url], check=True, capture_output=True, text=True
        ).stdout
    else:
        with urllib.request.urlopen(url) as answer:  # noqa: S310 - our loopback server
            body = answer.read().decode()
    print(body[:400] + (" ..." if len(body) > 400 else ""))
    return body


def cli_client(clientid: int) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
        [str(BIN / "contabyx"), "--exact", "client", str(clientid), "--by", "month"],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(done.stdout))


def _figures(client: dict[str, Any]) -> dict[str, Any]:
    """Every figure of a by-month answer, as Decimals by path: the CLI's numbers and the
    HTTP API's strings compare equal when the figures are."""
    out: dict[str, Any] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(inner, f"{path}/{key}")
        elif path.rsplit("/", 1)[-1] not in ("clientid", "run"):
            out[path] = Decimal(str(value))

    walk({k: v for k, v in client.items() if k != "clientid"}, "")
    return out


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    if sys.argv[1:] == ["--stop-serve"]:
        from devstack.stack import Stack

        stop_serve(Stack().state_dir)
        sys.exit(0)
    sys.exit(main())

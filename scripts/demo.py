"""``make demo``: the whole product on this machine, no AWS account.

Brings the local stack up, seeds 1,000 clients, creates the tables and the views,
runs the full sync with the production CLI, then looks clients up through
``contabyxAPI``. Only the endpoints differ from production. Safe to run again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


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
    print("\nDone. `make test` runs the suite; `make down` stops the stack.")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())

#!/usr/bin/env bash
# The nightly sync, for cron: runs from any working directory, loads config/.env,
# never overlaps with itself, appends timestamped logs, exits with the job's status.
#
#   scripts/insert.sh                  # full sync of both tables
#   scripts/insert.sh --entries 100    # any extra arguments go to `contabyx-etl run`
#
# Environment: CONTABYX_LOG (default logs/insert.log under the repository),
# CONTABYX_LOCK (default /tmp/contabyx-insert.lock), CONTABYX_ETL (the command;
# default the repository's .venv, else contabyx-etl on PATH), LOG_LEVEL (INFO).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

log="${CONTABYX_LOG:-$root/logs/insert.log}"
lock="${CONTABYX_LOCK:-${TMPDIR:-/tmp}/contabyx-insert.lock}"
mkdir -p "$(dirname "$log")"

if [ -n "${CONTABYX_ETL:-}" ]; then
  etl="$CONTABYX_ETL"
elif [ -x "$root/.venv/bin/contabyx-etl" ]; then
  etl="$root/.venv/bin/contabyx-etl"
else
  etl="contabyx-etl"
fi

stamp() { while IFS= read -r line; do printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line"; done; }

# A second run while one holds the lock exits at once, non-zero, saying why.
exec 9>"$lock"
if ! flock -n 9; then
  echo "insert.sh: another sync holds $lock; not starting a second one" | stamp | tee -a "$log" >&2
  exit 75
fi

export CONTABYX_ENV_FILE="${CONTABYX_ENV_FILE:-$root/config/.env}"
export LOG_LEVEL="${LOG_LEVEL:-INFO}"

echo "insert.sh: sync starting (pid $$)" | stamp >>"$log"
"$etl" run "$@" 2>&1 | stamp >>"$log"
status=${PIPESTATUS[0]}
echo "insert.sh: sync finished with status $status" | stamp >>"$log"
exit "$status"

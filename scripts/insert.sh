#!/usr/bin/env bash
# The nightly sync, for cron: runs from any working directory, loads config/.env,
# never overlaps with itself, appends timestamped logs, exits with the job's status.
#
#   scripts/insert.sh                  # incremental sync; a full one on CONTABYX_FULL_DAY
#   scripts/insert.sh --full           # any extra arguments go to `contabyx-etl run`
#
# Without --full, --incremental, --entries or --prune among the arguments, the run is
# --incremental (it writes what changed since the last complete run), except on
# CONTABYX_FULL_DAY (1-7, Monday to Sunday in UTC, as `date -u +%u`; default 7), when it
# is a full run: every item rewritten, the safety net against whatever an incremental
# run cannot see (a hand edit of a table, a restore).
#
# Environment: CONTABYX_LOG (default logs/insert.log under the repository),
# CONTABYX_LOCK (default run/insert.lock under the repository, in a directory only
# this user may write), CONTABYX_ETL (the command; default the repository's .venv,
# else contabyx-etl on PATH), LOG_LEVEL (INFO).
#
# Exit status: the job's; 75 when another sync holds the lock; 78 when the lock
# cannot be used (a symbolic link, not a regular file, another user's file).
# The lock sees this machine only; `contabyx-etl run` also takes the sync's lease in
# DynamoDB (SYNC_TABLE), which keeps a run on another machine out (the job's 1).
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root" || exit 1

log="${CONTABYX_LOG:-$root/logs/insert.log}"
mkdir -p "$(dirname "$log")"

if [ -n "${CONTABYX_ETL:-}" ]; then
  etl="$CONTABYX_ETL"
elif [ -x "$root/.venv/bin/contabyx-etl" ]; then
  etl="$root/.venv/bin/contabyx-etl"
else
  etl="contabyx-etl"
fi

stamp() { while IFS= read -r line; do printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line"; done; }

EX_TEMPFAIL=75 # another sync holds the lock: try again later
EX_CONFIG=78   # the lock path cannot be used: a person must fix it

lock_unusable() {
  echo "insert.sh: cannot use the lock $lock: $1; set CONTABYX_LOCK to a file path in a" \
    "directory only this user can write (default: run/insert.lock in the checkout)" |
    stamp | tee -a "$log" >&2
  exit "$EX_CONFIG"
}

if [ -n "${CONTABYX_LOCK:-}" ]; then
  lock="$CONTABYX_LOCK"
else
  # The sync's own directory, writable by this user only: nobody else can plant
  # a link or a file there.
  lock="$root/run/insert.lock"
  { mkdir -p "$root/run" && chmod 700 "$root/run"; } || lock_unusable "its directory cannot be made"
fi

# The lock is opened read-only (flock needs no more): never truncated, never created
# through a symbolic link. A missing lock file is created with O_EXCL (noclobber),
# which fails on any existing name, links included.
[ -L "$lock" ] && lock_unusable "it is a symbolic link"
if [ ! -e "$lock" ]; then
  (set -C && : >"$lock") 2>/dev/null || [ -e "$lock" ] || lock_unusable "it cannot be created"
fi
[ -L "$lock" ] && lock_unusable "it is a symbolic link"
[ -d "$lock" ] && lock_unusable "it is a directory"
[ -f "$lock" ] || lock_unusable "it is not a regular file"
[ -O "$lock" ] || lock_unusable "it belongs to another user"
exec 9<"$lock" || lock_unusable "it cannot be opened"
# Checked again on the open file (bash tests /dev/fd/9 with fstat), in case the name
# was swapped between the checks above and the open.
{ [ -f /dev/fd/9 ] && [ -O /dev/fd/9 ]; } || lock_unusable "it changed while being opened"

# A second run while one holds the lock exits at once, non-zero, saying why.
if ! flock -n 9; then
  echo "insert.sh: another sync holds $lock; not starting a second one" | stamp | tee -a "$log" >&2
  exit "$EX_TEMPFAIL"
fi

# config/.env is found from the working directory (the checkout); CONTABYX_ENV_FILE,
# when set, names another file. INFO unless the environment or that file says otherwise.
env_file="${CONTABYX_ENV_FILE:-$root/config/.env}"
if [ -z "${LOG_LEVEL:-}" ] && ! grep -qsE '^[[:space:]]*(export[[:space:]]+)?LOG_LEVEL=' "$env_file"; then
  export LOG_LEVEL=INFO
fi

full_day="${CONTABYX_FULL_DAY:-7}"
case "$full_day" in
  [1-7]) ;;
  *)
    echo "insert.sh: CONTABYX_FULL_DAY must be a day 1-7 (Monday to Sunday), not '$full_day'" |
      stamp | tee -a "$log" >&2
    exit "$EX_CONFIG"
    ;;
esac
mode=()
case " $* " in
  *" --full "* | *" --incremental "* | *" --entries"* | *" --prune "*) ;; # the caller chose
  *) if [ "$(date -u +%u)" = "$full_day" ]; then mode=(--full); else mode=(--incremental); fi ;;
esac

echo "insert.sh: sync starting (pid $$) ${mode[*]:-}" | stamp >>"$log"
"$etl" run "${mode[@]}" "$@" 2>&1 | stamp >>"$log"
status=${PIPESTATUS[0]}
echo "insert.sh: sync finished with status $status" | stamp >>"$log"
exit "$status"

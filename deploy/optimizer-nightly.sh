#!/usr/bin/env bash
# The nightly run for cron (deploy/crontab): one JSON summary line per run in
# $LOG_DIR/run.jsonl, errors in $LOG_DIR/run.err, and the run's own exit code.
# Exit 75 (another run holds the store's `run` lock) is logged and treated as success:
# the run in progress does tonight's work.
set -uo pipefail
OPTIMIZER=${OPTIMIZER:-/opt/optimizer/bin/optimizer}
LOG_DIR=${LOG_DIR:-/var/log/optimizer}
mkdir -p "$LOG_DIR"
summary=$("$OPTIMIZER" --json run --skip-unbuilt 2>>"$LOG_DIR/run.err")
code=$?
# --json pretty-prints; squeeze it to one line so run.jsonl stays one run per line
if [ -n "$summary" ]; then
    printf '%s\n' "$summary" | tr -d '\n' >>"$LOG_DIR/run.jsonl"
    printf '\n' >>"$LOG_DIR/run.jsonl"
fi
if [ "$code" -eq 75 ]; then
    echo "$(date -u +%FT%TZ) another optimizer run holds the lock; nothing to do" >>"$LOG_DIR/run.err"
    exit 0
fi
exit "$code"

#!/usr/bin/env bash
# Sets everything up, starts the local mail sandbox and runs the daemon on config.yaml.
# Ctrl-C stops the daemon and the sandbox.
#
#   bash scripts/run.sh          the daemon in the foreground
#   bash scripts/run.sh --demo   the daemon in the background, then `visitflow demo` against it
#                                (a week of the sample people's mail, this month's report), then
#                                the daemon's log until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
demo=0
case "${1:-}" in
  --demo) demo=1 ;;
  "") ;;
  *) echo "usage: bash scripts/run.sh [--demo]" >&2; exit 2 ;;
esac
bash scripts/setup.sh
export VISITFLOW_CONFIG="${VISITFLOW_CONFIG:-config.yaml}"
# The sandbox keeps its state beside the config (see `visitflow sandbox start`).
state="$(dirname "$VISITFLOW_CONFIG")/var"
.venv/bin/visitflow sandbox start
if [ -z "${VISITFLOW_IMAP_PASSWORD:-}" ]; then
  VISITFLOW_IMAP_PASSWORD="$(cat "$state/sandbox/password")"
  export VISITFLOW_IMAP_PASSWORD
fi

if [ "$demo" = 0 ]; then
  trap '.venv/bin/visitflow sandbox stop' EXIT
  echo "run: send mail to visits@visitflow.test via SMTP 127.0.0.1:10025; read any mailbox via IMAP 127.0.0.1:14143"
  echo "run: for a first look, fill it with a demo week: bash scripts/run.sh --demo, or .venv/bin/visitflow demo in another terminal"
  .venv/bin/visitflow run
  exit
fi

# --demo: the daemon runs in the background (stopped by its PID on exit), the demo plays
# against it, then the daemon's log follows until Ctrl-C.
log="$state/daemon.log"
daemon_pid=""
tail_pid=""
stop_all() {
  if [ -n "$tail_pid" ]; then
    kill "$tail_pid" 2>/dev/null || true
  fi
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  .venv/bin/visitflow sandbox stop
}
trap stop_all EXIT
trap 'exit 130' INT TERM
: > "$log"
.venv/bin/visitflow run >>"$log" 2>&1 &
daemon_pid=$!
echo "run: daemon started (PID $daemon_pid, log $log); waiting for its IMAP connection"
for _ in $(seq 150); do
  grep -q "IMAP connected" "$log" && break
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "run: the daemon stopped:" >&2
    tail -n 20 "$log" >&2
    exit 1
  fi
  sleep 0.2
done
if ! grep -q "IMAP connected" "$log"; then
  echo "run: the daemon did not connect to IMAP within 30 s:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
.venv/bin/visitflow demo || echo "run: the demo stopped (see above); the daemon keeps running" >&2
echo "run: the daemon keeps running; its log follows. Ctrl-C stops it and the sandbox."
# In the background and waited for, so that a signal to this script alone also ends it at once.
tail -n 3 -f --pid="$daemon_pid" "$log" &
tail_pid=$!
wait "$tail_pid"

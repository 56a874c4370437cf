#!/usr/bin/env bash
# Sets everything up, starts the local mail sandbox and runs the daemon on config.yaml.
# Ctrl-C stops the daemon and the sandbox.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export VISITFLOW_CONFIG="${VISITFLOW_CONFIG:-config.yaml}"
.venv/bin/visitflow sandbox start
if [ -z "${VISITFLOW_IMAP_PASSWORD:-}" ]; then
  VISITFLOW_IMAP_PASSWORD="$(cat var/sandbox/password)"
  export VISITFLOW_IMAP_PASSWORD
fi
trap '.venv/bin/visitflow sandbox stop' EXIT
echo "run: send mail to visits@visitflow.test via SMTP 127.0.0.1:10025; read any mailbox via IMAP 127.0.0.1:14143"
.venv/bin/visitflow run

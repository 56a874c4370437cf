#!/usr/bin/env bash
# Sets everything up and runs the whole test suite. The tests start their own mail sandbox
# (Dovecot + Postfix on random loopback ports) and stop it at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest "$@"

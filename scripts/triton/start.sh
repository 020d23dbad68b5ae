#!/usr/bin/env bash
# Start N (default 2) local Triton 2.51 servers on the model repository scripts/triton/models, or
# restart one.
#   scripts/triton/start.sh --state FILE [--count N] [--model-repository DIR] [--timeout S] [-- TRITONSERVER ARGS]
#   scripts/triton/start.sh --state FILE --index I --restart     (same ports and arguments as before)
# Installs the venv first if needed. Prints TRITON_<i>_HTTP_URL / _GRPC_URL / _GRPC_ADDR /
# _METRICS_URL / _PID lines on stdout; progress and failures (with the log tail) on stderr.
# See fleet.py for all options and the state-file format. Stop with scripts/triton/stop.sh --state FILE.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$("$ROOT/scripts/triton/install.sh")"
exec "$VENV/bin/python" "$ROOT/scripts/triton/fleet.py" start --venv "$VENV" "$@"

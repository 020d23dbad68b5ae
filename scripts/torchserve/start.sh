#!/usr/bin/env bash
# Start N (default 2) local TorchServe 0.12 instances serving echo, echo_batched and echo_stream,
# or restart one:
#   scripts/torchserve/start.sh --state FILE [--count N] [--models a,b] [--timeout S]
#   scripts/torchserve/start.sh --state FILE --index I --restart     (same ports and config)
# Installs the venv first if needed. Prints TORCHSERVE_<i>_HTTP_URL=... (and _MANAGEMENT_URL,
# _METRICS_URL, _GRPC_URL, _GRPC_MANAGEMENT_URL, _PID) lines on stdout; progress and failures
# (with the log tail) on stderr. See fleet.py for all options and the state-file format.
# Stop with scripts/torchserve/stop.sh --state FILE.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$("$ROOT/scripts/torchserve/install.sh")"
exec "$VENV/bin/python" "$ROOT/scripts/torchserve/fleet.py" start --venv "$VENV" "$@"

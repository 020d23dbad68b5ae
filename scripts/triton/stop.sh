#!/usr/bin/env bash
# Stop all instances in a state file, or one: SIGTERM to its process group, SIGKILL after --timeout.
#   scripts/triton/stop.sh --state FILE [--index I] [--timeout 30]
# A missing state file is not an error (nothing to stop).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec python3 "$ROOT/scripts/triton/fleet.py" stop "$@"

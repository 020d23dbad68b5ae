#!/usr/bin/env bash
# Stop all instances in a state file, or one: `torchserve --stop` with the instance's TMPDIR, then
# SIGTERM/SIGKILL to whatever of it is left after --timeout.
#   scripts/torchserve/stop.sh --state FILE [--index I] [--timeout 30]
# A missing state file is not an error (nothing to stop).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec python3 "$ROOT/scripts/torchserve/fleet.py" stop "$@"

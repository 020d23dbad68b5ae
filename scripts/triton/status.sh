#!/usr/bin/env bash
# Readiness, pid and RSS of each instance:  scripts/triton/status.sh --state FILE   (exit 1 if one is down)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec python3 "$ROOT/scripts/triton/fleet.py" status "$@"

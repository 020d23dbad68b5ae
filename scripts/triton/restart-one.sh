#!/usr/bin/env bash
# Restart one instance on the ports it had:  scripts/triton/restart-one.sh --state FILE --index I
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "$ROOT/scripts/triton/start.sh" --restart "$@"

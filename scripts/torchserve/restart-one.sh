#!/usr/bin/env bash
# Restart one instance on the ports it had:  scripts/torchserve/restart-one.sh --state FILE --index I
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "$ROOT/scripts/torchserve/start.sh" --restart "$@"

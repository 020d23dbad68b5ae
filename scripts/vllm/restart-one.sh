#!/usr/bin/env bash
# Restart one instance on the port it had:  scripts/vllm/restart-one.sh --state FILE --index I
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec "$ROOT/scripts/vllm/start.sh" --restart "$@"

#!/usr/bin/env bash
# Health, models, pid and RSS of each instance:  scripts/torchserve/status.sh --state FILE
# (exit 1 if an instance meant to be running is down or has a model without a READY worker)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
exec python3 "$ROOT/scripts/torchserve/fleet.py" status "$@"

#!/usr/bin/env bash
# Start N (default 2) local vLLM CPU instances serving the tiny model as `tiny-llama`, or restart one.
#   scripts/vllm/start.sh --state FILE [--count N] [--kv-events] [--dev-mode] [--timeout S] [-- VLLM ARGS]
#   scripts/vllm/start.sh --state FILE [--count N] --embedding  (all-MiniLM-L6-v2 as `all-MiniLM-L6-v2`,
#       --runner pooling: POST /v1/embeddings; the model ships in the venv; same state file and output)
#   scripts/vllm/start.sh --state FILE --index I --restart     (same port and arguments as before)
# Installs the venv and builds the model first if needed. Prints VLLM_URLS=... lines on stdout;
# progress and failures (with the log tail) on stderr. See fleet.py for all options and the
# state-file format. Stop with scripts/vllm/stop.sh --state FILE.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$("$ROOT/scripts/vllm/install.sh")"
exec "$VENV/bin/python" "$ROOT/scripts/vllm/fleet.py" start --venv "$VENV" "$@"

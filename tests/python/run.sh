#!/usr/bin/env bash
# OpenAI Python SDK compatibility tests against a running router.
#   SWITCHYARD_URL=http://127.0.0.1:PORT/v1 [SWITCHYARD_MODEL=sim-model] [SWITCHYARD_EMBED_MODEL=M] \
#   [SWITCHYARD_FAILING_MODEL=M] tests/python/run.sh [pytest args...]
# Installs the pinned test venv (.cache/venvs/openai-tests-<hash>) on first use. With CI set, a
# missing SWITCHYARD_EMBED_MODEL / SWITCHYARD_FAILING_MODEL fails the tests that need it.
# Exits with pytest's status; pytest's summary line is the last line printed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/venv.sh
source "$ROOT/scripts/lib/venv.sh"
: "${SWITCHYARD_URL:?set SWITCHYARD_URL to the router OpenAI base URL, e.g. http://127.0.0.1:8080/v1}"
ensure_venv openai-tests "$ROOT/tests/python/requirements.txt" >/dev/null
cd "$ROOT/tests/python"
export PYTHONDONTWRITEBYTECODE=1
exec "$VENV_DIR/bin/python" -m pytest -p no:cacheprovider -v -rfEs "$@" test_openai_sdk.py

#!/usr/bin/env bash
# Install TorchServe 0.12 (no real torch) from the pinned lock into the cached venv
# .cache/venvs/torchserve-<hash>, put the stand-in `torch` (fake_torch/) on its path, and print the
# venv path on stdout. Cold: ~10 s with a warm pip cache, ~140 MB on disk; warm: instant.
# Needs Java 17+ on PATH (or JAVA_HOME) to run TorchServe; checked here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/venv.sh
source "$ROOT/scripts/lib/venv.sh"
ensure_venv torchserve "$ROOT/scripts/torchserve/requirements.lock" --no-deps >/dev/null

# The stand-in torch is not pip-installed: a .pth file points at the source directory, so editing
# fake_torch/ needs no rebuild. Rewritten on every run (cheap; follows the checkout if it moves).
site="$(compgen -G "$VENV_DIR/lib/python3*/site-packages" | head -n1)"
[[ -n "$site" ]] || { echo "torchserve venv at $VENV_DIR has no site-packages; delete it and rerun" >&2; exit 1; }
pth="$site/switchyard_fake_torch.pth"
want="$ROOT/scripts/torchserve/fake_torch"
if [[ "$(cat "$pth" 2>/dev/null)" != "$want" ]]; then
  printf '%s\n' "$want" >"$pth.tmp.$$" && mv -f "$pth.tmp.$$" "$pth"
fi

# Sanity: the launcher, the Java frontend jar, the archiver, and that the worker's imports resolve
# against the stand-in (not a real torch that might have crept in).
for f in "$VENV_DIR/bin/torchserve" "$VENV_DIR/bin/torch-model-archiver" "$site/ts/frontend/model-server.jar"; do
  [[ -e "$f" ]] || { echo "torchserve venv at $VENV_DIR lacks $f; delete it and rerun" >&2; exit 1; }
done
"$VENV_DIR/bin/python" - <<'PY' >&2 || { echo "torchserve venv at $VENV_DIR is broken (see above)" >&2; exit 1; }
import torch
assert getattr(torch, "IS_SWITCHYARD_STAND_IN", False), f"expected the stand-in torch, got {torch.__file__}"
import grpc, grpc_tools.protoc, yaml  # noqa: F401
import ts.protocol.otf_message_handler, ts.handler_utils.utils, ts.model_service_worker  # noqa: F401
PY
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
if ! command -v "$java" >/dev/null 2>&1; then
  echo "warning: java not found (TorchServe needs Java 17+; apt-get install openjdk-17-jre-headless)" >&2
fi
echo "$VENV_DIR"

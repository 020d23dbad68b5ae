#!/usr/bin/env bash
# Install Triton Inference Server 2.51 (the standalone `tritonserver` binary shipped inside the
# nvidia-pytriton 0.7.0 wheel), tritonclient[http,grpc] and numpy from the pinned lock into the
# cached venv .cache/venvs/triton-<hash>. Prints the venv path on stdout.
# Cold: ~100 MB of wheels, ~23 s, ~370 MB on disk; warm: instant. The venv holds everything the
# tests need: the server, its Python backend and stubs, tritonclient (tests/python/triton_clients.py).
# The lock is made by make_lock.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/lib/venv.sh
source "$ROOT/scripts/lib/venv.sh"
ensure_venv triton "$ROOT/scripts/triton/requirements.lock" >/dev/null
# Cheap sanity check: the server binary, the Python backend and the stub for the venv's Python.
pyver="$("$VENV_DIR/bin/python" -c 'import sys;print("%d.%d" % sys.version_info[:2])')"
tsdir="$VENV_DIR/lib/python$pyver/site-packages/pytriton/tritonserver"
for f in bin/tritonserver backends/python/libtriton_python.so backends/python/triton_python_backend_utils.py \
  "python_backend_stubs/$pyver/triton_python_backend_stub"; do
  [[ -f "$tsdir/$f" ]] || { echo "triton venv at $VENV_DIR is broken ($tsdir/$f missing); delete it and rerun" >&2; exit 1; }
done
[[ -x "$tsdir/bin/tritonserver" ]] || { echo "$tsdir/bin/tritonserver is not executable" >&2; exit 1; }
echo "$VENV_DIR"
